#include "http/http.h"

#include "http/connection_pool.h"

#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>
#include <stdexcept>
#include <gtest/gtest.h>
#include <thread>

namespace vessel {
namespace {

std::string temp_socket() { return "/tmp/vessel-http-test-" + std::to_string(getpid()) + ".sock"; }

TEST(Http, UnixSocketRoundTrip) {
  std::string path = temp_socket();
  auto server = http::Server::listen_unix(path, 0600, [](const http::Request& r) {
    if (r.path == "/echo")
      return http::Response::json(200, "{\"method\":\"" + r.method + "\",\"body\":" + r.body +
                                           ",\"q\":\"" + (r.query.count("x") ? r.query.at("x") : "") +
                                           "\"}");
    return http::Response::json(404, R"({"error":"no such route"})");
  });
  ASSERT_TRUE(server) << server.error().to_string();
  http::ClientOptions opts;
  opts.unix_socket = path;
  auto r = http::request(opts, "PUT", "http://localhost/echo?x=7", "{\"a\":1}");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"method":"PUT","body":{"a":1},"q":"7"})");
  auto missing = http::request(opts, "GET", "http://localhost/nope");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

// A process that exits right after a request ended its work (vessel-vmm when the guest ends at
// once) drains first: the answer still reaches the client although the server is destroyed.
TEST(Http, DrainLetsInFlightAnswersOutBeforeTheServerStops) {
  std::string path = temp_socket();
  std::atomic<bool> entered{false};
  auto server = http::Server::listen_unix(path, 0600, [&](const http::Request&) {
    entered = true;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return http::Response::json(200, R"({"done":true})");
  });
  ASSERT_TRUE(server) << server.error().to_string();
  http::ClientOptions opts;
  opts.unix_socket = path;
  Result<http::ClientResponse> answer = fail(EINVAL, "no answer yet");
  std::thread client([&] { answer = http::request(opts, "PUT", "http://localhost/actions", "{}"); });
  while (!entered) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  (*server)->drain(std::chrono::seconds(5));
  server->reset();
  client.join();
  ASSERT_TRUE(answer) << answer.error().to_string();
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, R"({"done":true})");
}

TEST(Http, OversizedBodyGets413) {
  std::string path = temp_socket();
  http::ServerOptions o;
  o.max_body_bytes = 1024;
  std::atomic<int> calls{0};
  auto server = http::Server::listen_unix(
      path, 0600,
      [&](const http::Request&) {
        ++calls;
        return http::Response::no_content();
      },
      o);
  ASSERT_TRUE(server);
  http::ClientOptions opts;
  opts.unix_socket = path;
  auto r = http::request(opts, "PUT", "http://localhost/x", std::string(4096, 'a'));
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(calls.load(), 0);
}

// A per-request limit (vesseld: PUT .../archive may be larger than other bodies): each request
// gets its own, and the answer names it. Also: HEAD has headers and no body; headers reach the
// client's map lower-cased.
TEST(Http, PerRequestBodyLimitAndHeadAnswersHeaders) {
  std::string path = temp_socket();
  http::ServerOptions o;
  o.max_body_bytes = 1024;
  o.max_body_for = [](const http::Request& r) -> size_t { return r.path == "/big" ? 8192 : 1024; };
  std::atomic<int> calls{0};
  auto server = http::Server::listen_unix(
      path, 0600,
      [&](const http::Request&) {
        ++calls;
        http::Response resp = http::Response::json(200, "{}");
        resp.headers["X-Stat"] = "abc";
        return resp;
      },
      o);
  ASSERT_TRUE(server);
  http::ClientOptions opts;
  opts.unix_socket = path;
  auto big = http::request(opts, "PUT", "http://localhost/big", std::string(4096, 'a'));
  ASSERT_TRUE(big) << big.error().to_string();
  EXPECT_EQ(big->status, 200);
  EXPECT_EQ(calls.load(), 1);
  auto small = http::request(opts, "PUT", "http://localhost/small", std::string(4096, 'a'));
  ASSERT_TRUE(small);
  EXPECT_EQ(small->status, 413);
  auto too_big = http::request(opts, "PUT", "http://localhost/big", std::string(9000, 'a'));
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);
  EXPECT_NE(too_big->body.find("8192"), std::string::npos) << too_big->body;
  EXPECT_EQ(calls.load(), 1);
  auto head = http::request(opts, "HEAD", "http://localhost/x");
  ASSERT_TRUE(head) << head.error().to_string();
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["x-stat"], "abc");
  EXPECT_TRUE(head->body.empty());
}

// A handler that throws (a bug, or a third-party library's exception) must not cross into
// libmicrohttpd's thread: the client gets a 500 and the server keeps serving.
TEST(Http, AThrowingHandlerAnswers500AndTheServerLives) {
  std::string path = temp_socket();
  auto server = http::Server::listen_unix(path, 0600, [](const http::Request& r) {
    if (r.path == "/throw") throw std::runtime_error("handler bug");
    return http::Response::json(200, R"({"ok":true})");
  });
  ASSERT_TRUE(server) << server.error().to_string();
  http::ClientOptions opts;
  opts.unix_socket = path;
  for (int i = 0; i < 3; ++i) {
    auto thrown = http::request(opts, "GET", "http://localhost/throw");
    ASSERT_TRUE(thrown) << thrown.error().to_string();
    EXPECT_EQ(thrown->status, 500);
    EXPECT_EQ(thrown->body, R"({"error":"internal error"})");
    auto next = http::request(opts, "GET", "http://localhost/fine");
    ASSERT_TRUE(next) << next.error().to_string();
    EXPECT_EQ(next->status, 200);
  }
}

TEST(Http, StreamedResponse) {
  std::string path = temp_socket();
  auto server = http::Server::listen_unix(path, 0600, [](const http::Request&) {
    http::Response r;
    auto n = std::make_shared<int>(0);
    r.stream = [n](std::string& out) {
      out += "line " + std::to_string((*n)++) + "\n";
      return *n < 3;
    };
    return r;
  });
  ASSERT_TRUE(server);
  http::ClientOptions opts;
  opts.unix_socket = path;
  std::string got;
  auto st = http::request_stream(opts, "GET", "http://localhost/events", [&](std::string_view d) {
    got += d;
    return true;
  });
  ASSERT_TRUE(st) << st.error().to_string();
  EXPECT_EQ(*st, 200);
  EXPECT_EQ(got, "line 0\nline 1\nline 2\n");
}

TEST(Http, AStreamIsCancelledFromAnotherThread) {
  // A stream that never ends (an etcd watch): ClientOptions::cancelled ends it with ECANCELED.
  std::string path = temp_socket();
  auto ended = std::make_shared<std::atomic<bool>>(false);
  auto server = http::Server::listen_unix(path, 0600, [ended](const http::Request&) {
    http::Response r;
    r.stream = [ended](std::string& out) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      out += ".";
      return !ended->load();
    };
    return r;
  });
  ASSERT_TRUE(server);
  std::atomic<bool> stop{false};
  http::ClientOptions opts;
  opts.unix_socket = path;
  opts.cancelled = [&] { return stop.load(); };
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    stop = true;
  });
  size_t bytes = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto st = http::request_stream(opts, "GET", "http://localhost/watch", [&](std::string_view d) {
    bytes += d.size();
    return true;
  });
  stopper.join();
  *ended = true;
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().errnum(), ECANCELED) << st.error().to_string();
  EXPECT_GT(bytes, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

// An echo server on a Unix socket for the keep-alive tests.
Result<std::unique_ptr<http::Server>> echo_server(const std::string& path) {
  return http::Server::listen_unix(path, 0600, [](const http::Request& r) {
    if (r.path == "/stream") {
      http::Response resp;
      auto n = std::make_shared<int>(0);
      resp.stream = [n](std::string& out) {
        out += "line " + std::to_string((*n)++) + "\n";
        return *n < 3;
      };
      return resp;
    }
    return http::Response::json(200, "{\"body\":\"" + r.body + "\"}");
  });
}

TEST(HttpConnectionPool, ARequestGoesOnTheConnectionTheLastOneLeftOpen) {
  std::string path = temp_socket();
  auto server = echo_server(path);
  ASSERT_TRUE(server) << server.error().to_string();
  http::ConnectionPool pool;
  http::ClientOptions opts;
  opts.unix_socket = path;
  // Without a pool each request has a connection of its own.
  for (int i = 0; i < 2; ++i) {
    auto r = http::request(opts, "POST", "http://localhost/echo", "x");
    ASSERT_TRUE(r) << r.error().to_string();
    EXPECT_FALSE(r->reused_connection);
  }
  opts.pool = &pool;
  auto first = http::request(opts, "POST", "http://localhost/echo", "1");
  ASSERT_TRUE(first) << first.error().to_string();
  EXPECT_FALSE(first->reused_connection);
  EXPECT_EQ(pool.idle(), 1u);
  // A streamed answer, then a HEAD and a plain request: each on the same connection, each with
  // its own options (nothing of the last request's stays on the handle).
  std::string got;
  auto streamed = http::request_stream(opts, "GET", "http://localhost/stream", [&](std::string_view d) {
    got += d;
    return true;
  });
  ASSERT_TRUE(streamed) << streamed.error().to_string();
  EXPECT_EQ(got, "line 0\nline 1\nline 2\n");
  auto head = http::request(opts, "HEAD", "http://localhost/echo");
  ASSERT_TRUE(head) << head.error().to_string();
  EXPECT_TRUE(head->reused_connection);
  EXPECT_TRUE(head->body.empty());
  auto second = http::request(opts, "POST", "http://localhost/echo", "2");
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_TRUE(second->reused_connection);
  EXPECT_EQ(second->body, R"({"body":"2"})");
  EXPECT_EQ(pool.idle(), 1u);
}

TEST(HttpConnectionPool, AConnectionTheServerClosedIsReplaced) {
  std::string path = temp_socket();
  http::ConnectionPool pool;
  http::ClientOptions opts;
  opts.unix_socket = path;
  opts.pool = &pool;
  {
    auto server = echo_server(path);
    ASSERT_TRUE(server) << server.error().to_string();
    ASSERT_TRUE(http::request(opts, "POST", "http://localhost/echo", "1"));
  }  // the server ends, and its connections with it
  auto server = echo_server(path);
  ASSERT_TRUE(server) << server.error().to_string();
  auto again = http::request(opts, "POST", "http://localhost/echo", "2");
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->body, R"({"body":"2"})");
  EXPECT_FALSE(again->reused_connection);
}

TEST(HttpConnectionPool, ThreadsShareItAndItKeepsAtMostItsLimit) {
  std::string path = temp_socket();
  auto server = echo_server(path);
  ASSERT_TRUE(server) << server.error().to_string();
  http::ConnectionPool pool(3);
  http::ClientOptions opts;
  opts.unix_socket = path;
  opts.pool = &pool;
  std::atomic<int> ok{0}, reused{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        std::string body = std::to_string(t * 100 + i);
        auto r = http::request(opts, "POST", "http://localhost/echo", body);
        if (r && r->body == R"({"body":")" + body + "\"}") ++ok;
        if (r && r->reused_connection) ++reused;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 120);
  EXPECT_GT(reused.load(), 60) << "most requests should find a connection left open";
  EXPECT_LE(pool.idle(), 3u);
}

TEST(Http, ConnectionRefusedHasHint) {
  http::ClientOptions opts;
  opts.unix_socket = "/tmp/vessel-no-such.sock";
  auto r = http::request(opts, "GET", "http://localhost/");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().hint().find("running"), std::string::npos);
}

}  // namespace
}  // namespace vessel
