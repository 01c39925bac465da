# ASan + UBSan for the debug preset (METAGATE_SANITIZE=ON); applied globally so every
# library, test and the daemon share one runtime.
if(METAGATE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # clang 14 + coroutines + -fsanitize=function: "Cannot represent a difference across
    # sections" (LLVM #49689).
    add_compile_options(-fno-sanitize=function)
  endif()
endif()
