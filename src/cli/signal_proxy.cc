#include "cli/signal_proxy.h"

#include <signal.h>

#include <ctime>

#include "base/cli.h"

namespace vessel::cli {

namespace {

sigset_t proxied_signals() {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&set, sig);
  return set;
}

}  // namespace

SignalProxy::SignalProxy(Client client, std::string name) : client_(std::move(client)), name_(std::move(name)) {
  sigset_t set = proxied_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  thread_ = std::thread([this] { forward(); });
}

SignalProxy::~SignalProxy() {
  stop_ = true;
  thread_.join();
  sigset_t set = proxied_signals();
  pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
}

void SignalProxy::forward() {
  sigset_t set = proxied_signals();
  timespec slice{0, 200 * 1000 * 1000};  // to notice stop_
  while (!stop_) {
    int sig = sigtimedwait(&set, nullptr, &slice);
    if (sig <= 0) continue;
    auto sent = client_.call("POST", "/v1/instances/" + escape_segment(name_) + "/kill?signal=" + std::to_string(sig), json::Json());
    if (!sent) print_error("vessel", sent.error());
  }
}

}  // namespace vessel::cli
