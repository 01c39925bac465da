// WriteLock: FIFO async mutex across io_contexts, with timeouts.
#include "write_lock.hpp"

#include <algorithm>

namespace metagate::server {

namespace asio = boost::asio;

asio::awaitable<bool> WriteLock::acquire(std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<Waiter> w;
  {
    std::lock_guard lk(mu_);
    if (!held_) {
      held_ = true;
      co_return true;
    }
    w = std::make_shared<Waiter>(ex);
    w->timer.expires_after(timeout);
    queue_.push_back(w);
  }
  auto [ec] = co_await w->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  (void)ec;
  std::lock_guard lk(mu_);
  if (w->granted) co_return true;
  queue_.erase(std::remove(queue_.begin(), queue_.end(), w), queue_.end());
  co_return false;
}

bool WriteLock::try_acquire() {
  std::lock_guard lk(mu_);
  if (held_) return false;
  held_ = true;
  return true;
}

void WriteLock::release() {
  std::lock_guard lk(mu_);
  if (!queue_.empty()) {
    auto w = queue_.front();
    queue_.pop_front();
    w->granted = true;  // ownership passes directly; held_ stays true
    asio::post(w->timer.get_executor(), [w] { w->timer.cancel(); });
    return;
  }
  held_ = false;
}

size_t WriteLock::waiting() const {
  std::lock_guard lk(mu_);
  return queue_.size();
}

}  // namespace metagate::server
