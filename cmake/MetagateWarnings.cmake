# Compiler warnings applied to every metagate target through metagate_warnings.
add_library(metagate_warnings INTERFACE)
target_compile_options(metagate_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter)
if(METAGATE_WARNINGS_AS_ERRORS)
  target_compile_options(metagate_warnings INTERFACE -Werror)
endif()
