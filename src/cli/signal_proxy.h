// `run -a` forwards the signals it gets to the instance (Docker's --sig-proxy, on by default):
// Ctrl-C reaches the container instead of leaving it running behind a CLI that has gone.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "cli/client.h"

namespace vessel::cli {

class SignalProxy {
 public:
  // Blocks INT, TERM, HUP, QUIT, USR1 and USR2 in this thread (and the threads it makes after),
  // and forwards each one that arrives to `name` (POST /v1/instances/NAME/kill?signal=N).
  SignalProxy(Client client, std::string name);
  ~SignalProxy();
  SignalProxy(const SignalProxy&) = delete;
  SignalProxy& operator=(const SignalProxy&) = delete;

 private:
  void forward();

  Client client_;
  std::string name_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace vessel::cli
