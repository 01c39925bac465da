// ha::ask_patroni_primary against a loopback HTTP server playing Patroni's REST API.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "metagate/ha/patroni.hpp"

using namespace metagate::ha;

namespace {

// Listens on a free loopback port; answers one request with `status` and records its request line.
class FakePatroni {
 public:
  explicit FakePatroni(int status) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    EXPECT_EQ(::listen(fd_, 1), 0);
    thread_ = std::thread([this, status] {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string req;
      char buf[1024];
      while (req.find("\r\n\r\n") == std::string::npos) {
        ssize_t n = ::recv(c, buf, sizeof buf, 0);
        if (n <= 0) break;
        req.append(buf, static_cast<size_t>(n));
      }
      request_line_ = req.substr(0, req.find("\r\n"));
      std::string body = status == 200 ? R"({"role": "primary"})" : R"({"role": "replica"})";
      std::string resp = "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Service Unavailable") +
                         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\nConnection: close\r\n\r\n" + body;
      ::send(c, resp.data(), resp.size(), 0);
      ::close(c);
    });
  }
  ~FakePatroni() {
    ::shutdown(fd_, SHUT_RDWR);
    ::close(fd_);
    if (thread_.joinable()) thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string request_line() {
    if (thread_.joinable()) thread_.join();
    return request_line_;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::string request_line_;
};

TEST(Patroni, TheLeaderAnswers200) {
  FakePatroni p(200);
  PatroniAnswer a = ask_patroni_primary(p.url() + "/", 2000);
  EXPECT_TRUE(a.leader);
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(p.request_line(), "GET /primary HTTP/1.1");
}

TEST(Patroni, AnyOtherStatusIsNotTheLeader) {
  FakePatroni p(503);
  PatroniAnswer a = ask_patroni_primary(p.url(), 2000);
  EXPECT_FALSE(a.leader);
  EXPECT_EQ(a.status, 503);
  EXPECT_NE(a.error.find("answers 503 (not the leader)"), std::string::npos) << a.error;
}

TEST(Patroni, NoAnswerIsNotTheLeader) {
  // A port nothing listens on (bound, then closed).
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const int port = ntohs(a.sin_port);
  ::close(fd);
  PatroniAnswer r = ask_patroni_primary("http://127.0.0.1:" + std::to_string(port), 1000);
  EXPECT_FALSE(r.leader);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("Patroni REST API http://127.0.0.1:" + std::to_string(port) + "/primary"), std::string::npos)
      << r.error;
}

}  // namespace
