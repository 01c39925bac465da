# ASan + UBSan for the debug preset (METAGATE_SANITIZE=ON); applied globally so every
# library, test and the daemon share one runtime.
if(METAGATE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
