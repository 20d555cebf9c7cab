// TLS terminated by vessel_http itself (GnuTLS): TlsStreamListener and open_tls_stream, the raw
// stream between two vesselds (a live migration's memory between hosts), and the HTTP server's
// front. A large stream one way, then a short answer the other, as vessel-vmm's migration ends
// (state sent, then the receiver's Done): the answer comes while the sender waits
// (libmicrohttpd's own TLS relayed an upgraded connection 4 bytes at a time and held it back). A
// client without the expected certificate is closed and the listener waits for the right one.
#include "http/tls_stream_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "base/unix_socket.h"
#include "free_tcp_port.h"
#include "http/http.h"
#include "http/public_key_pin.h"
#include "http/upgrade_client.h"

namespace vessel {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

struct TlsStream : ::testing::Test {
  void SetUp() override {
    char t[] = "/tmp/vessel-tls-stream.XXXXXX";
    dir = ::mkdtemp(t);
    for (const char* who : {"server", "client", "stranger"}) make_cert(who);
    auto pin = http::public_key_pin(fingerprint("server", true));
    ASSERT_TRUE(pin) << pin.error().to_string();
    for (auto* o : {&client, &stranger}) o->pinned_public_key = *pin;
    client.client_cert = dir + "/client.crt";
    client.client_key = dir + "/client.key";
    stranger.client_cert = dir + "/stranger.crt";
    stranger.client_key = dir + "/stranger.key";
    int s[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s), 0);
    plain = Fd(s[0]);
    receiver = Fd(s[1]);
  }
  void TearDown() override { std::filesystem::remove_all(dir); }
  void make_cert(const std::string& who) {
    std::string cmd = "cd " + dir + " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 "
                      "-subj /CN=" + who + " -keyout " + who + ".key -out " + who + ".crt 2>/dev/null";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  // SHA-256 hex of the certificate's DER, or of its public key's.
  std::string fingerprint(const std::string& who, bool public_key) {
    std::string der = public_key ? "openssl x509 -in " + who + ".crt -pubkey -noout | openssl pkey -pubin -outform der"
                                 : "openssl x509 -in " + who + ".crt -outform der";
    std::string cmd = "cd " + dir + " && " + der + " | sha256sum | cut -c1-64 > " + who + ".sha";
    EXPECT_EQ(std::system(cmd.c_str()), 0);
    return slurp(dir + "/" + who + ".sha").substr(0, 64);
  }
  std::unique_ptr<http::TlsStreamListener> listen() {
    http::TlsStreamOptions o{dir + "/server.crt", dir + "/server.key", fingerprint("client", false)};
    auto l = http::TlsStreamListener::listen("127.0.0.1", o);
    EXPECT_TRUE(l) << l.error().to_string();
    return l ? std::move(*l) : nullptr;
  }
  std::string url(const http::TlsStreamListener& l) { return "https://127.0.0.1:" + std::to_string(l.port()); }
  // vessel_http's server on TLS (http/tls_front.h) on 127.0.0.1; its https:// URL ("" on failure).
  std::string https_server(http::Handler handler, unsigned max_connections = 256) {
    int port = 0;
    int fd = test::loopback_listener(port);
    if (fd < 0) return "";
    http::ServerOptions options;
    options.tls_key_pem = slurp(dir + "/server.key");
    options.tls_cert_pem = slurp(dir + "/server.crt");
    options.max_connections = max_connections;
    auto s = http::Server::listen_fd(fd, std::move(handler), options);
    EXPECT_TRUE(s) << s.error().to_string();
    if (!s) return "";
    server = std::move(*s);
    return "https://127.0.0.1:" + std::to_string(port);
  }
  std::string dir;
  http::ClientOptions client, stranger;
  Fd plain, receiver;  // the listener relays to `plain`; the test is the receiver behind it
  std::unique_ptr<http::Server> server;
};

constexpr size_t kStreamBytes = 64u << 20;

TEST_F(TlsStream, ALargeStreamThenTheAnswerComesAtOnce) {
  auto listener = listen();
  ASSERT_TRUE(listener);
  Result<int> served = 0;
  std::thread server([&] { served = listener->serve([&]() -> Result<Fd> { return std::move(plain); }); });
  std::thread receiving([&] {  // reads the whole stream, then answers
    size_t got = 0;
    char buf[65536];
    for (ssize_t n; got < kStreamBytes && (n = ::read(receiver.get(), buf, sizeof buf)) > 0;) got += static_cast<size_t>(n);
    EXPECT_EQ(got, kStreamBytes);
    EXPECT_TRUE(unix_socket::send_all(receiver.get(), "Done"));
  });
  auto stream = http::open_tls_stream(client, url(*listener));
  ASSERT_TRUE(stream) << stream.error().to_string();
  std::string chunk(1 << 20, 'm');
  for (size_t sent = 0; sent < kStreamBytes; sent += chunk.size()) ASSERT_TRUE(unix_socket::send_all(stream->get(), chunk));
  pollfd p{stream->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 8000), 1) << "no answer 8 s after the stream's last byte (vessel-vmm waits 10 s)";
  char answer[4] = {};
  EXPECT_EQ(::recv(stream->get(), answer, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(answer, 4), "Done");
  receiving.join();
  receiver = Fd();  // the receiver ends: the relay ends, and the client sees the stream's end
  server.join();
  ASSERT_TRUE(served) << served.error().to_string();
  EXPECT_EQ(*served, 0);
  EXPECT_EQ(::recv(stream->get(), answer, 1, 0), 0);
}

TEST_F(TlsStream, OnlyTheExpectedCertificateIsTaken) {
  auto listener = listen();
  ASSERT_TRUE(listener);
  Result<int> served = 0;
  std::thread server([&] { served = listener->serve([&]() -> Result<Fd> { return std::move(plain); }); });
  // A stranger's certificate, then none at all: closed, and the wait goes on.
  auto bad = http::open_tls_stream(stranger, url(*listener));
  if (bad) {  // the handshake may end on the server's side after the client's part of it
    char c;
    EXPECT_LE(::recv(bad->get(), &c, 1, 0), 0) << "a stranger was relayed";
  }
  http::ClientOptions anonymous = client;
  anonymous.client_cert.clear();
  anonymous.client_key.clear();
  auto none = http::open_tls_stream(anonymous, url(*listener));
  if (none) {
    char c;
    EXPECT_LE(::recv(none->get(), &c, 1, 0), 0) << "a client without a certificate was relayed";
  }
  auto good = http::open_tls_stream(client, url(*listener));
  ASSERT_TRUE(good) << good.error().to_string();
  ASSERT_TRUE(unix_socket::send_all(good->get(), "hello"));
  char buf[5];
  ASSERT_EQ(::recv(receiver.get(), buf, 5, MSG_WAITALL), 5);
  EXPECT_EQ(std::string(buf, 5), "hello");
  listener->stop();
  server.join();
  ASSERT_TRUE(served) << served.error().to_string();
  EXPECT_EQ(*served, 2);
}

// The HTTP server's TLS (http/tls_front.h): an upgraded connection (exec, console, attach over
// TLS) carries the same large stream and its answer; the handler learns the client's certificate.
TEST_F(TlsStream, AnUpgradedConnectionOfTheHttpServerCarriesALargeStreamAndItsAnswer) {
  std::string seen_cert;
  std::string url = https_server([&](const http::Request& r) {
    seen_cert = r.client_cert_sha256;
    http::Response resp;
    resp.status = 101;
    resp.headers["Upgrade"] = "test-stream";
    resp.upgrade = [](int sock, std::string early) {
      size_t got = early.size();
      char buf[65536];
      for (ssize_t n; got < kStreamBytes && (n = ::read(sock, buf, sizeof buf)) > 0;) got += static_cast<size_t>(n);
      if (got == kStreamBytes) (void)unix_socket::send_all(sock, "Done");
    };
    return resp;
  });
  ASSERT_FALSE(url.empty());
  auto up = http::open_upgrade_tls(client, url, "POST", "/s", "test-stream");
  ASSERT_TRUE(up) << up.error().to_string();
  ASSERT_EQ(up->status, 101) << up->rest;
  EXPECT_EQ(seen_cert, fingerprint("client", false));
  std::string chunk(1 << 20, 'm');
  for (size_t sent = 0; sent < kStreamBytes; sent += chunk.size()) ASSERT_TRUE(unix_socket::send_all(up->fd.get(), chunk));
  pollfd p{up->fd.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 8000), 1) << "no answer 8 s after the stream's last byte";
  char answer[4] = {};
  EXPECT_EQ(::recv(up->fd.get(), answer, 4, MSG_WAITALL), 4);
  EXPECT_EQ(std::string(answer, 4), "Done");
}

// A client's half-close crosses TLS (close_notify from libcurl's side, a half-close again on the
// server's): the session reads its end of input and still answers (raw attach, console).
TEST_F(TlsStream, AHalfCloseCrossesTlsAndTheAnswerStillComes) {
  std::string url = https_server([&](const http::Request&) {
    http::Response resp;
    resp.status = 101;
    resp.headers["Upgrade"] = "test-stream";
    resp.upgrade = [](int sock, std::string early) {  // counts the input to its end, then answers
      size_t got = early.size();
      char buf[4096];
      for (ssize_t n; (n = ::read(sock, buf, sizeof buf)) > 0;) got += static_cast<size_t>(n);
      (void)unix_socket::send_all(sock, "read " + std::to_string(got) + " bytes to the end");
    };
    return resp;
  });
  ASSERT_FALSE(url.empty());
  auto up = http::open_upgrade_tls(client, url, "POST", "/s", "test-stream");
  ASSERT_TRUE(up) << up.error().to_string();
  ASSERT_EQ(up->status, 101) << up->rest;
  ASSERT_TRUE(unix_socket::send_all(up->fd.get(), std::string(100000, 'i')));
  ASSERT_EQ(::shutdown(up->fd.get(), SHUT_WR), 0);
  pollfd p{up->fd.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1) << "the half-close did not reach the session";
  std::string answer;
  char buf[256];
  for (ssize_t n; (n = ::read(up->fd.get(), buf, sizeof buf)) > 0;) answer.append(buf, static_cast<size_t>(n));
  EXPECT_EQ(answer, "read 100000 bytes to the end");
}

// Silent clients (a TCP connection, no handshake) take a thread each for up to 10 s: past the
// limit, more are closed at once; once they go, a client is served again.
TEST_F(TlsStream, SilentClientsBeyondTheLimitAreClosedAndTheServerServesAfterThem) {
  std::string url = https_server([](const http::Request&) { return http::Response::json(200, "{}"); }, 2);
  ASSERT_FALSE(url.empty());
  auto port = static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
  auto connect_silently = [&] {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    return fd;
  };
  Fd first = connect_silently(), second = connect_silently();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both taken by the accept thread
  Fd third = connect_silently();
  pollfd p{third.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the connection past the limit was not closed";
  char c;
  EXPECT_EQ(::recv(third.get(), &c, 1, 0), 0);
  first = Fd();
  second = Fd();
  Result<http::ClientResponse> r = fail(EIO, "not tried");
  for (int i = 0; i < 50 && !(r && r->status == 200); ++i) {  // their handshakes end on their close
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    r = http::request(client, "GET", url + "/v1");
  }
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
}

TEST_F(TlsStream, StopEndsTheWait) {
  auto listener = listen();
  ASSERT_TRUE(listener);
  Result<int> served = 0;
  std::thread server([&] { served = listener->serve([&]() -> Result<Fd> { return std::move(plain); }); });
  listener->stop();
  server.join();
  ASSERT_FALSE(served);
  EXPECT_EQ(served.error().errnum(), ECANCELED);
}

}  // namespace
}  // namespace vessel
