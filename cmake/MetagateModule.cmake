# metagate_module(NAME SOURCES ... DEPS ...): one static library per module.
# Public headers live in include/metagate/<module>/, sources in src/<module>/.
function(metagate_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(mg_${name} STATIC ${M_SOURCES})
  add_library(metagate::${name} ALIAS mg_${name})
  target_include_directories(mg_${name} PUBLIC ${PROJECT_SOURCE_DIR}/include)
  target_link_libraries(mg_${name} PUBLIC ${M_DEPS} PRIVATE metagate_warnings ${M_PRIVATE_DEPS})
endfunction()

# metagate_unit_test(NAME SOURCES ... DEPS ...): a GoogleTest binary registered with ctest.
function(metagate_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_DEPS} GTest::gtest GTest::gtest_main GTest::gmock metagate_warnings)
  target_compile_definitions(${name} PRIVATE METAGATE_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    METAGATE_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit TIMEOUT 120)
endfunction()
