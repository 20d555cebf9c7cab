#include "vmm/host_io.h"

#include <unistd.h>

#include <thread>

#include "base/log.h"
#include "base/unix_socket.h"
#include "vmm/api/api_server.h"
#include "vmm/sandbox/seccomp.h"

namespace vessel::vmm {

Result<std::unique_ptr<http::Server>> serve_api(const std::string& path, ActionMailbox& actions) {
  auto controller = std::make_shared<ApiController>([&actions](VmmAction action) -> VmmReply {
    auto reply = actions.call(std::move(action));
    if (!reply) return fail(EINVAL, "the VM has ended");
    return std::move(*reply);
  });
  http::ServerOptions opts;
  opts.max_body_bytes = 64 << 10;
  opts.too_large = [](size_t limit) { return fault(413, fmt::format("request body larger than {} bytes", limit)); };
  auto handler = [controller](const http::Request& r) { return controller->handle(r); };
  // The socket is made here; the server's threads are started by a thread that has loaded the API
  // filter first, so that libmicrohttpd's listener and connection threads inherit it.
  Fd fd = TRY(unix_socket::listen(path, {.mode = 0600}));
  Result<std::unique_ptr<http::Server>> server = fail(EIO, "the API server did not start");
  std::thread([&] {
    pthread_setname_np(pthread_self(), "api");
    sandbox::enter(sandbox::ThreadKind::Api);
    server = http::Server::listen_fd(fd.release(), handler, opts);
  }).join();
  return server;
}

Result<std::unique_ptr<ConsoleSocket>> serve_console(const std::string& path, ConsoleMailbox& input, Serial& serial) {
  auto console = TRY(ConsoleSocket::listen(path, [&input](std::string_view bytes) {
    return input.call(std::string(bytes)).value_or(bytes.size());  // the VM has ended: drop them
  }));
  serial.set_output_tap([c = console.get()](std::string_view b) { c->output(b); });
  return console;
}

void start_signal_thread(SignalMailbox& signals) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  std::thread([&signals, stop_signals] {
    pthread_setname_np(pthread_self(), "signals");
    sandbox::enter(sandbox::ThreadKind::Signals);
    for (int sig = 0; sigwait(&stop_signals, &sig) == 0;)
      if (!signals.post(sig)) return;
  }).detach();
}

void Terminal::attach(ConsoleMailbox& input) {
  if (!isatty(STDIN_FILENO)) return;
  if (tcgetattr(STDIN_FILENO, &saved_) == 0) {
    termios raw = saved_;
    raw.c_lflag &= ~(ICANON | ECHO | ISIG);
    raw.c_iflag &= ~(ICRNL | IXON);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    raw_ = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  std::thread([&input] {
    pthread_setname_np(pthread_self(), "terminal");
    sandbox::enter(sandbox::ThreadKind::Terminal);
    char buf[256];
    for (;;) {
      ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n <= 0 || !input.call(std::string(buf, static_cast<size_t>(n)))) return;
    }
  }).detach();
}

Terminal::~Terminal() {
  if (raw_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
}

}  // namespace vessel::vmm
