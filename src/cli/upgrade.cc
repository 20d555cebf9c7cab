#include "cli/upgrade.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/unix_socket.h"
#include "cli/client.h"
#include "stream/frames.h"

namespace vessel::cli {

namespace {


std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
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

Result<UpgradedConnection> open_upgraded(const std::string& socket, const std::string& method, const std::string& path,
                                         const std::string& body) {
  auto connected = unix_socket::connect(socket);
  if (!connected) {
    return Unexpected(Error::system(connected.error().errnum(), fmt::format("cannot reach vesseld at {}", socket))
                          .with_hint("is vesseld running? start it (systemctl start vesseld) or pass --socket / set VESSEL_SOCKET"));
  }
  Fd fd = std::move(*connected);
  std::string request = fmt::format(
      "{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: {}\r\n", method, path,
      frames::kUpgradeProtocol);
  if (!body.empty()) request += fmt::format("Content-Type: application/json\r\nContent-Length: {}\r\n", body.size());
  request += "\r\n" + body;
  if (!unix_socket::send_all(fd.get(), request)) return fail_errno("send the request to vesseld");
  std::string in;
  size_t end;
  while ((end = in.find("\r\n\r\n")) == std::string::npos) {
    if (in.size() > 65536) return fail(EPROTO, "vesseld's answer has an oversized header");
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read vesseld's answer");
    if (n == 0) return fail(EPROTO, "vesseld closed the connection without an answer");
    in.append(buf, static_cast<size_t>(n));
  }
  auto head = TRY(parse_response_head(std::string_view(in).substr(0, end)));
  std::string rest = in.substr(end + 4);
  if (head.status == 101) return UpgradedConnection{std::move(fd), std::move(rest)};
  // An error: read its body (bounded) and turn it into the daemon's message.
  size_t want = head.content_length >= 0 ? static_cast<size_t>(head.content_length) : 65536;
  while (rest.size() < want && rest.size() < 65536) {
    char buf[4096];
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    rest.append(buf, static_cast<size_t>(n));
  }
  return Unexpected(error_from_response(head.status, rest));
}

}  // namespace vessel::cli
