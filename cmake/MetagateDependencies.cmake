# Every external dependency, found once. All come from Debian 12 packages
# (scripts/install-deps.sh installs them); nothing is downloaded at build time.
find_package(Threads REQUIRED)

# Boost 1.81 (Asio, Beast) is header-only for what we use.
find_package(Boost 1.81.0 CONFIG REQUIRED)

find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.11 CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
# prometheus-cpp's config file has no version file: no version in find_package.
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(zstd CONFIG REQUIRED)
# libcurl 7.88 (libcurl4-openssl-dev) signs S3 requests itself (CURLOPT_AWS_SIGV4).
find_package(CURL REQUIRED)
# pugixml 1.13's config exports pugixml::pugixml (-> pugixml::shared) and the old `pugixml`.
find_package(pugixml CONFIG REQUIRED)

# libpg_query ships neither a CMake config nor a pkg-config file.
find_path(PG_QUERY_INCLUDE_DIR pg_query.h REQUIRED)
find_library(PG_QUERY_LIBRARY pg_query REQUIRED)
add_library(pg_query::pg_query UNKNOWN IMPORTED)
set_target_properties(pg_query::pg_query PROPERTIES
  IMPORTED_LOCATION ${PG_QUERY_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${PG_QUERY_INCLUDE_DIR})

if(METAGATE_BUILD_TESTS)
  find_package(GTest CONFIG REQUIRED)
  include(GoogleTest)
endif()
