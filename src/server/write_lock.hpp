// WriteLock: the single-writer lock of a SQLite store, awaited by sessions on any io thread
// in FIFO order with a timeout (PostgreSQL's 55P03 lock_not_available when it expires).
#pragma once

#include <boost/asio.hpp>

#include <chrono>
#include <deque>
#include <memory>
#include <mutex>

namespace metagate::server {

class WriteLock {
 public:
  // True when acquired; false on timeout or when cancelled through cancel_waiters().
  boost::asio::awaitable<bool> acquire(std::chrono::milliseconds timeout);
  bool try_acquire();
  void release();
  size_t waiting() const;

 private:
  struct Waiter {
    explicit Waiter(boost::asio::any_io_executor ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    bool granted = false;
  };
  mutable std::mutex mu_;
  bool held_ = false;
  std::deque<std::shared_ptr<Waiter>> queue_;
};

}  // namespace metagate::server
