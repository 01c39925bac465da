// Test support: the store's writer with a WalCapture as its WAL observer (what the daemon
// wires up), and a file's content as a client would see it. Header-only; used by the capture
// tests and the outage simulation.
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "metagate/backup/capture.hpp"
#include "metagate/store/sqlite_store.hpp"

namespace metagate::testing {

// Forwards the store's WAL events to a capture; failures are counted (the test checks them).
struct CaptureForward : store::WalObserver {
  explicit CaptureForward(std::shared_ptr<backup::WalCapture> c) : c(std::move(c)) {}
  void commit_begin() noexcept override { c->commit_begin(); }
  void committed(int frames) override {
    if (!c->committed(frames)) ++failures;
  }
  bool before_checkpoint() override { return static_cast<bool>(c->sync()); }
  void closed_cleanly() override {
    if (!c->closed_cleanly()) ++failures;
  }
  std::shared_ptr<backup::WalCapture> c;
  int failures = 0;
};

// Store options whose observer factory opens a WalCapture with `co` and hands it to `*out`.
inline store::StoreOptions store_with_capture(const std::filesystem::path& db, backup::CaptureOptions co,
                                              std::shared_ptr<backup::WalCapture>* out) {
  store::StoreOptions so;
  so.path = db.string();
  so.readers = 1;
  so.group_commit = false;
  so.make_wal_observer = [co, out](const std::string& file) -> PgResult<std::unique_ptr<store::WalObserver>> {
    auto c = backup::WalCapture::open(file, co);
    if (!c) return unexpected(c.error());
    *out = std::move(*c);
    return std::unique_ptr<store::WalObserver>(new CaptureForward(*out));
  };
  return so;
}

// The rows of `queries` (each row's columns as text, '|'-separated), read-only.
inline std::string file_content(const std::filesystem::path& file, const std::vector<std::string>& queries) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "ERR cannot open " + file.string();
  }
  for (const auto& sql : queries) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      out += std::string("ERR ") + sqlite3_errmsg(db) + "\n";
      continue;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        out += t ? reinterpret_cast<const char*>(t) : "NULL";
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

}  // namespace metagate::testing
