// The host side of virtio-vsock, as Firecracker has it: guest streams become Unix-socket
// streams. A host process connects to `uds_path` and writes "CONNECT <port>\n"; the guest gets a
// REQUEST and, once it answers RESPONSE, the host reads "OK <host_port>\n" and the stream is
// open (a guest RST closes it). A guest connecting to host port P is connected to the Unix socket
// "<uds_path>_P" (none there: RST).
//
// Everything runs on the device thread. Guest packets arrive already validated (vsock_packet.h).
// Flow control both ways (virtio 1.2, 5.10.6.3): the host never reads more from a socket than
// the guest has advertised room for (buf_alloc - (sent - fwd_cnt)), so a guest that does not read
// stops the host's socket rather than growing a queue; guest data beyond the room we advertised
// (kBufAlloc per connection) is a credit violation and resets the connection. Bounded: at most
// `max_connections` streams (plus handshakes), at most kMaxControl control packets waiting for rx
// buffers (beyond that the device leaves tx chains in the ring).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"
#include "base/fd.h"
#include "base/json.h"
#include "vmm/devices/virtio/vsock/vsock_packet.h"

namespace vessel::vmm::virtio::vsock {

inline constexpr uint32_t kBufAlloc = 256 * 1024;  // what each connection buffers guest->host
inline constexpr size_t kMaxControl = 512;         // control packets waiting for rx buffers
inline constexpr size_t kMaxConnectLine = 32;      // "CONNECT 4294967295\n" fits
inline constexpr uint32_t kFirstLocalPort = 1u << 30;  // host ports given to host-initiated streams
inline constexpr std::chrono::milliseconds kConnectTimeout{5000};  // a guest's answer to a host REQUEST (Firecracker: 2 s; emulated guests are slower)

// "CONNECT <port>\n" (the newline included): the port, or nothing for anything else.
std::optional<uint32_t> parse_connect_line(std::string_view line);

struct MuxerConfig {
  uint64_t guest_cid = 3;
  std::string uds_path;
  size_t max_connections = 256;
};

class Muxer {
 public:
  // `listener`: a non-blocking listening socket at config.uds_path.
  static Result<std::unique_ptr<Muxer>> create(MuxerConfig config, Fd listener);
  ~Muxer();

  int epoll_fd() const { return epoll_.get(); }
  // The driver reset the device: every stream is closed, nothing is pending.
  void reset();

  // guest -> host
  bool can_take_tx() const { return control_.size() < kMaxControl; }
  void on_guest_packet(const TxPacket& packet);
  void on_bad_packet(const PacketFault& fault);  // counted; RST when the header could be read

  // host -> guest
  void poll_host();  // non-blocking: new clients, handshakes, sockets ready
  // Writes the next packet for the guest into `rx`; its length, or nothing when there is none.
  std::optional<uint32_t> fill_rx(const RxBuffer& rx);
  // Something fill_rx would send now (given a buffer).
  bool has_rx_work() const;
  // Host connects the guest did not answer within kConnectTimeout: closed, the guest gets RST.
  void expire(std::chrono::steady_clock::time_point now);
  // The earliest such deadline, if any stream waits for the guest's answer.
  std::optional<std::chrono::steady_clock::time_point> next_deadline() const;

  void add_metrics(json::Json& out) const;
  uint64_t errors(PacketError kind) const { return errors_[size_t(kind)].load(); }
  size_t connections() const { return conns_.size(); }

 private:
  enum class State { PeerInit, LocalInit, Established };
  struct Conn {
    uint64_t id = 0;
    Fd sock;
    uint32_t local_port = 0, peer_port = 0;
    State state = State::PeerInit;
    bool readable = false, hup = false, host_eof = false;
    bool guest_shut_send = false, guest_shut_rcv = false;
    bool credit_requested = false, update_queued = false;
    std::vector<uint8_t> to_host;  // guest bytes the host socket did not take yet
    size_t to_host_off = 0;
    uint32_t own_bytes = 0;  // leading bytes of to_host that are ours ("OK <port>\n")
    uint32_t rx_cnt = 0, fwd_cnt = 0, last_fwd_sent = 0;  // guest -> host
    uint32_t peer_buf_alloc = 0, peer_fwd_cnt = 0, tx_cnt = 0;  // host -> guest
    uint32_t events = 0;  // epoll interest now
    std::chrono::steady_clock::time_point answer_by{};  // LocalInit: the guest's RESPONSE is due
    uint32_t credit() const;
    size_t pending() const { return to_host.size() - to_host_off; }
  };
  struct Handshake {
    Fd sock;
    std::string line;
  };
  struct Control {
    Header header;
    uint64_t conn = 0;  // the stream whose credit fields it carries, 0: none
  };

  Muxer(MuxerConfig config, Fd listener, Fd epoll);
  static uint64_t key(uint32_t local, uint32_t peer) { return (uint64_t(local) << 32) | peer; }
  Conn* find(uint32_t local, uint32_t peer);
  void count(PacketError kind) { errors_[size_t(kind)]++; }
  void accept_clients();
  void serve_handshake(uint64_t id);
  void on_event(uint64_t id, uint32_t events);
  void guest_connect(const Header& h);
  void on_stream_packet(Conn& c, const TxPacket& p);
  void guest_data(Conn& c, const TxPacket& p);
  void flush_to_host(Conn& c);
  void maybe_finish(Conn& c);
  void queue(Conn& c, Op op, uint32_t flags = 0);
  void queue_rst(uint32_t local, uint32_t peer);
  void kill(Conn& c);  // RST to the guest, stream closed
  void remove(uint64_t id);
  void update_interest(Conn& c);
  std::optional<uint32_t> send_control(const RxBuffer& rx);
  std::optional<uint32_t> send_data(Conn& c, const RxBuffer& rx);
  bool wants_read(const Conn& c) const;
  uint32_t new_local_port();

  MuxerConfig config_;
  Fd listener_, epoll_;
  uint64_t next_id_ = 1;  // 0 is the listener's epoll token
  uint32_t next_local_port_ = kFirstLocalPort;
  std::map<uint64_t, Conn> conns_;
  std::map<uint64_t, uint64_t> by_key_;
  std::map<uint64_t, Handshake> handshakes_;
  std::deque<Control> control_;
  uint64_t rr_next_ = 0;  // round robin over readable streams

  std::array<std::atomic<uint64_t>, size_t(PacketError::Count)> errors_{};
  std::atomic<uint64_t> host_connects_{0}, guest_connects_{0}, refused_{0}, resets_sent_{0},
      bytes_to_guest_{0}, bytes_from_guest_{0}, bad_connect_lines_{0}, open_{0},
      connect_timeouts_{0};
};

}  // namespace vessel::vmm::virtio::vsock
