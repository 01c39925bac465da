// Replay driver: runs files through LLVMFuzzerTestOneInput without libFuzzer, so that every
// fuzz target's seed corpus and committed crashers run as an ordinary ctest test (label
// fuzz-replay) in the g++ ASan+UBSan debug build.
//
// Usage: replay_<target> PATH...   (a PATH is a file or a directory, read non-recursively;
// missing paths are skipped). Exit status 0 when every input ran; a crash aborts the process.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace fs = std::filesystem;

static bool run_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
    return false;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  // A fresh heap copy of exactly the input size, so ASan sees reads past the end.
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  auto* buf = new uint8_t[copy.size() ? copy.size() : 1];
  std::copy(copy.begin(), copy.end(), buf);
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", p.c_str(), copy.size());
  LLVMFuzzerTestOneInput(buf, copy.size());
  delete[] buf;
  return true;
}

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  size_t ran = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    fs::path arg(argv[i]);
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> files;
      for (const auto& e : fs::directory_iterator(arg, ec))
        if (e.is_regular_file() && e.path().filename().string()[0] != '.') files.push_back(e.path());
      std::sort(files.begin(), files.end());
      for (const auto& p : files) {
        ok = run_file(p) && ok;
        ++ran;
      }
    } else if (fs::is_regular_file(arg, ec)) {
      ok = run_file(arg) && ok;
      ++ran;
    }
  }
  std::printf("replay: %zu inputs ran%s\n", ran, ok ? "" : " (some could not be read)");
  if (ran == 0) {
    std::fprintf(stderr, "replay: no inputs found (wrong corpus path?)\n");
    return 1;
  }
  return ok ? 0 : 1;
}
