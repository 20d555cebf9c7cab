// The VM's interactive console: a Unix stream socket (vessel-vmm --console-sock PATH). Every byte
// the guest writes to the UART is copied to each connected client; bytes from a client go to the
// UART's receive FIFO. It lives as long as the VMM, so a console outlives a vesseld restart.
//
// The vCPU side never blocks: output() appends to a bounded buffer and wakes the console thread;
// a client that does not read loses output beyond kMaxPendingBytes (counted), never stalls the
// guest. Input is taken only as fast as the guest drains its FIFO.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm {

class ConsoleSocket {
 public:
  // Takes guest input: returns how many bytes the UART accepted (the rest is offered again later).
  using InputSink = std::function<size_t(std::string_view)>;

  static constexpr size_t kMaxClients = 8;
  static constexpr size_t kMaxPendingBytes = 1 << 20;  // per client

  // Listens on `path` (a stale socket file is replaced) with mode 0600.
  static Result<std::unique_ptr<ConsoleSocket>> listen(const std::string& path, InputSink input);
  ~ConsoleSocket();
  ConsoleSocket(const ConsoleSocket&) = delete;
  ConsoleSocket& operator=(const ConsoleSocket&) = delete;

  // Guest output (from a vCPU thread): never blocks.
  void output(std::string_view bytes);
  uint64_t dropped_bytes() const { return dropped_.load(); }
  size_t clients() const { return clients_.load(); }

 private:
  struct Client {
    Fd fd;
    std::string out;          // output not yet written to this client
    bool input_done = false;  // the client shut down its sending side; it may still read
  };
  static constexpr std::chrono::milliseconds kFlushDeadline{1000};

  ConsoleSocket(std::string path, Fd listener, EventFd wake, InputSink input);
  void run();
  void flush_before_close(std::vector<Client>& clients);

  std::string path_;
  Fd listener_;
  EventFd wake_;
  InputSink input_;
  std::mutex mu_;
  std::string pending_;  // guest output not yet handed to the clients
  bool stop_ = false;
  std::atomic<uint64_t> dropped_{0};
  std::atomic<size_t> clients_{0};
  std::thread thread_;
};

}  // namespace vessel::vmm
