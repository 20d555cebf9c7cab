#include "http/upgrade_client.h"

#include <unistd.h>

#include "base/unix_socket.h"

namespace vessel::http {

namespace {
std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads (blocking) until `done` says enough or the peer closes; false on a read error.
template <typename Done>
bool read_until(const std::function<ssize_t(char*, size_t)>& read, std::string& in, Done done) {
  while (!done()) {
    char buf[4096];
    ssize_t n = read(buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    in.append(buf, static_cast<size_t>(n));
  }
  return true;
}
}  // namespace

Result<ResponseHead> parse_response_head(std::string_view head) {
  ResponseHead h;
  size_t eol = head.find("\r\n");
  std::string_view status_line = head.substr(0, eol);
  if (status_line.substr(0, 5) != "HTTP/" || status_line.find(' ') == std::string_view::npos)
    return fail(EPROTO, "vesseld sent no HTTP status line");
  auto sp = status_line.find(' ');
  h.status = std::atoi(std::string(status_line.substr(sp + 1, 3)).c_str());
  if (h.status < 100 || h.status > 599) return fail(EPROTO, "vesseld sent a bad HTTP status");
  size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
  while (pos < head.size()) {
    size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string line(head.substr(pos, end - pos));
    auto colon = line.find(':');
    if (colon != std::string::npos && lower(line.substr(0, colon)) == "content-length")
      h.content_length = std::atol(line.c_str() + colon + 1);
    pos = end + 2;
  }
  return h;
}

std::string upgrade_request(const std::string& method, const std::string& target, const std::string& protocol,
                            const std::string& body, const std::vector<std::string>& headers) {
  std::string request =
      fmt::format("{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: {}\r\n", method, target, protocol);
  for (const auto& h : headers) request += h + "\r\n";
  if (!body.empty()) request += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  return request + "\r\n" + body;
}

Result<UpgradeAnswer> read_upgrade_answer(const std::function<ssize_t(char*, size_t)>& read, const std::string& peer) {
  UpgradeAnswer answer;
  std::string in;
  bool too_long = false;
  if (!read_until(read, in, [&] { return in.find("\r\n\r\n") != std::string::npos || (too_long = in.size() > 65536); }))
    return fail_errno("read the answer from {}", peer);
  if (too_long) return fail(EPROTO, "the answer from {} has an oversized header", peer);
  size_t end = in.find("\r\n\r\n");
  if (end == std::string::npos) return fail(EPROTO, "{} closed the connection without an answer", peer);
  auto head = TRY(parse_response_head(std::string_view(in).substr(0, end)));
  answer.status = head.status;
  answer.rest = in.substr(end + 4);
  if (head.status == 101) return answer;
  // An error: its body (bounded).
  size_t want = head.content_length >= 0 ? std::min<size_t>(static_cast<size_t>(head.content_length), 65536) : 65536;
  (void)read_until(read, answer.rest, [&] { return answer.rest.size() >= want; });
  return answer;
}

Result<UpgradeAnswer> open_upgrade(const std::string& socket, const std::string& method, const std::string& target,
                                   const std::string& protocol, const std::string& body,
                                   const std::vector<std::string>& headers) {
  auto connected = unix_socket::connect(socket);
  if (!connected) return Unexpected(connected.error());
  Fd fd = std::move(*connected);
  if (!unix_socket::send_all(fd.get(), upgrade_request(method, target, protocol, body, headers)))
    return fail_errno("send the request to {}", socket);
  int raw = fd.get();
  auto answer = TRY(read_upgrade_answer([raw](char* buf, size_t n) { return ::read(raw, buf, n); }, socket));
  answer.fd = std::move(fd);
  return answer;
}

}  // namespace vessel::http
