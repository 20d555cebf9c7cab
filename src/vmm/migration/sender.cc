#include "vmm/migration/sender.h"

#include <algorithm>
#include <bit>

#include "base/log.h"

namespace vessel::vmm::migration {
namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

// A page of zeros travels as a range in a Zero message, without its bytes. Read in 64-byte
// blocks: a page with data usually shows it in the first one.
bool page_is_zero(const uint8_t* page) {
  const auto* w = reinterpret_cast<const uint64_t*>(page);  // page-aligned
  for (size_t i = 0; i < kPageSize / 8; i += 8) {
    if ((w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] | w[i + 7]) != 0) return false;
  }
  return true;
}

uint64_t count_pages(const std::vector<uint64_t>& bitmap) {
  uint64_t n = 0;
  for (uint64_t w : bitmap) n += static_cast<uint64_t>(std::popcount(w));
  return n;
}

// Gathers pages into Pages messages (their bytes written straight from guest RAM) and Zero
// messages, each within the receiver's bounds.
class PageWriter {
 public:
  PageWriter(Channel& ch, std::span<const uint8_t> ram, SendReport& report) : ch_(ch), ram_(ram), report_(report) {}

  // `untouched`: pages that are zero without being read (empty: none known).
  Result<void> add(uint64_t first, uint64_t count, const std::vector<uint64_t>& untouched = {}) {
    for (uint64_t p = first; p < first + count; ++p) {
      bool known = p / 64 < untouched.size() && ((untouched[p / 64] >> (p % 64)) & 1);
      TRY(add_page(p, known || page_is_zero(ram_.data() + p * kPageSize)));
    }
    return {};
  }
  Result<void> flush() {
    TRY(flush_data());
    return flush_zero();
  }

 private:
  Result<void> add_page(uint64_t page, bool zero) {
    auto& ranges = zero ? zero_ : data_;
    if (!ranges.empty() && ranges.back().first + ranges.back().count == page) {
      ++ranges.back().count;
    } else {
      if (ranges.size() == kMaxRangesPerMessage) TRY(zero ? flush_zero() : flush_data());
      ranges.push_back({page, 1});
    }
    if (!zero && ++data_pages_ == kMaxPagesPerMessage) TRY(flush_data());
    return {};
  }

  Result<void> flush_data() {
    if (data_.empty()) return {};
    auto head = encode_ranges(MessageType::Pages, data_, true);
    std::vector<iovec> parts{{head.data(), head.size()}};
    for (const auto& r : data_)
      parts.push_back({const_cast<uint8_t*>(ram_.data() + r.first * kPageSize), r.count * kPageSize});
    TRY(ch_.write(std::span<const iovec>(parts)));
    report_.bytes += head.size() + data_pages_ * kPageSize;
    report_.data_pages += data_pages_;
    data_.clear();
    data_pages_ = 0;
    return {};
  }

  Result<void> flush_zero() {
    if (zero_.empty()) return {};
    auto head = encode_ranges(MessageType::Zero, zero_, false);
    TRY(ch_.write(std::span<const uint8_t>(head)));
    report_.bytes += head.size();
    for (const auto& r : zero_) report_.zero_pages += r.count;
    zero_.clear();
    return {};
  }

  Channel& ch_;
  std::span<const uint8_t> ram_;
  SendReport& report_;
  std::vector<PageRange> data_, zero_;
  uint64_t data_pages_ = 0;
};

class Sender {
 public:
  Sender(Channel& ch, VmSource& vm, const SendOptions& options)
      : ch_(ch), vm_(vm), options_(options), running_(vm.running()), ram_pages_(vm.ram().size() / kPageSize) {}

  Result<SendReport> run() {
    start_ = Clock::now();
    auto sent = migrate();
    if (sent) return report_;
    Error error = std::move(sent.error());
    recover(error);
    return tl::unexpected(std::move(error));
  }

 private:
  Result<void> migrate() {
    TRY(handshake());
    TRY(vm_.start_dirty_log());
    TRY(send_round(0, nullptr));
    std::vector<uint64_t> left;
    if (running_) left = TRY(iterate());
    return final_round(std::move(left));
  }

  Result<void> handshake() {
    auto bytes = encode_preamble();
    if (options_.token) {
      auto token = encode_token(*options_.token);
      bytes.insert(bytes.end(), token.begin(), token.end());
    }
    auto hello = encode_hello({vm_.ram().size(), vm_.vcpu_count()});
    auto config = encode_config(vm_.config());
    bytes.insert(bytes.end(), hello.begin(), hello.end());
    bytes.insert(bytes.end(), config.begin(), config.end());
    TRY(ch_.write(std::span<const uint8_t>(bytes)));
    report_.bytes += bytes.size();
    return answer(MessageType::Ready);
  }

  // The receiver's answer: `expected`, or its Error message as the error.
  Result<void> answer(MessageType expected) {
    uint8_t bytes[kHeaderBytes];
    TRY(ch_.read(bytes));
    Header h = TRY(parse_header(bytes));
    if (h.type == MessageType::Error) {
      std::vector<uint8_t> text(h.length);
      TRY(ch_.read(text));
      answered_ = true;
      return fail(ECONNABORTED, "the receiver refused the VM: {}", parse_error_text(text));
    }
    if (h.type != expected) return fail(EPROTO, "the receiver answered {} where {} belongs", to_string(h.type), to_string(expected));
    return {};
  }

  // Rounds after round 0, while the VM runs: the pages written during the last one, until they
  // fit the budget. Returns the pages left for the final round.
  Result<std::vector<uint64_t>> iterate() {
    for (uint32_t round = 1;; ++round) {
      auto dirty = TRY(take());
      if (count_pages(dirty) <= budget_pages() || round > options_.max_rounds) return dirty;
      TRY(send_round(round, &dirty));
    }
  }

  Result<void> final_round(std::vector<uint64_t> left) {
    auto paused_at = Clock::now();
    if (running_) {
      TRY(vm_.pause());
      paused_ = true;
    }
    report_.pause_ms = ms_since(paused_at);
    auto step = Clock::now();
    auto dirty = TRY(take());
    dirty.resize(std::max(dirty.size(), left.size()));
    for (size_t i = 0; i < left.size(); ++i) dirty[i] |= left[i];
    report_.final_pages = count_pages(dirty);
    TRY(send_round(report_.rounds, &dirty));
    report_.final_pages_ms = ms_since(step);
    step = Clock::now();
    auto state = TRY(vm_.save_state());
    auto head = encode_state_head(running_ ? kStateResume : 0, state.size());
    iovec parts[] = {{head.data(), head.size()}, {state.data(), state.size()}};
    TRY(ch_.write(std::span<const iovec>(parts)));
    report_.bytes += head.size() + state.size();
    report_.state_bytes = state.size();
    report_.state_ms = ms_since(step);
    log::debug("migration: state sent ({} bytes), waiting for Done", state.size());
    step = Clock::now();
    TRY(answer(MessageType::Done));
    report_.receiver_ms = ms_since(step);
    report_.downtime_ms = ms_since(paused_at);
    report_.total_ms = ms_since(start_);
    return {};
  }

  // One round: its Round message, then the pages (`dirty`, or all of RAM for round 0: null).
  Result<void> send_round(uint32_t round, const std::vector<uint64_t>* dirty) {
    auto began = Clock::now();
    uint64_t bytes_before = report_.bytes;
    uint64_t pages = dirty ? count_pages(*dirty) : ram_pages_;
    auto head = encode_round({round, pages});
    TRY(ch_.write(std::span<const uint8_t>(head)));
    report_.bytes += head.size();
    PageWriter writer(ch_, vm_.ram(), report_);
    if (!dirty) {
      TRY(writer.add(0, ram_pages_, vm_.untouched_pages()));
    } else {
      for (uint64_t p = 0; p < ram_pages_;) {  // runs of set bits
        if (!((*dirty)[p / 64] >> (p % 64) & 1)) {
          ++p;
          continue;
        }
        uint64_t end = p;
        while (end < ram_pages_ && ((*dirty)[end / 64] >> (end % 64) & 1)) ++end;
        TRY(writer.add(p, end - p));
        p = end;
      }
    }
    TRY(writer.flush());
    ++report_.rounds;
    double ms = ms_since(began);
    uint64_t sent = report_.bytes - bytes_before;
    log::debug("migration: round {}: {} pages, {} bytes in {:.2f} ms", round, pages, sent, ms);
    if (sent >= (1u << 20) && ms > 0) bytes_per_ms_ = static_cast<double>(sent) / ms;
    return {};
  }

  // The dirty pages, remembered: a failed migration puts all it took back.
  Result<std::vector<uint64_t>> take() {
    auto dirty = TRY(vm_.take_dirty_pages());
    dirty.resize(std::max<size_t>(dirty.size(), (ram_pages_ + 63) / 64));
    taken_.resize(dirty.size());
    for (size_t i = 0; i < dirty.size(); ++i) taken_[i] |= dirty[i];
    return dirty;
  }

  uint64_t budget_pages() const {
    double bytes = bytes_per_ms_ * static_cast<double>(options_.downtime_limit.count()) / 2;
    return std::max<uint64_t>(64, static_cast<uint64_t>(bytes / kPageSize));
  }

  // The VM goes on where it is; the reason the receiver gave, when it gave one.
  void recover(Error& error) {
    if (paused_) {
      if (auto resumed = vm_.resume(); !resumed)
        error.add_context(fmt::format("(and resuming the VM failed: {})", resumed.error().to_string()));
    }
    if (!taken_.empty()) vm_.put_back_dirty_pages(taken_);
    if (answered_ || (error.errnum() != EPIPE && error.errnum() != ECONNRESET)) return;
    ch_.set_timeout(std::chrono::milliseconds(200));
    uint8_t bytes[kHeaderBytes];
    if (!ch_.read(bytes)) return;
    auto h = parse_header(bytes);
    if (!h || h->type != MessageType::Error) return;
    std::vector<uint8_t> text(h->length);
    if (!ch_.read(text)) return;
    error = Error(ECONNABORTED, fmt::format("the receiver gave up: {}", parse_error_text(text)));
  }

  Channel& ch_;
  VmSource& vm_;
  const SendOptions& options_;
  const bool running_;
  const uint64_t ram_pages_;
  Clock::time_point start_;
  SendReport report_;
  std::vector<uint64_t> taken_;
  double bytes_per_ms_ = 1 << 20;  // 1 GB/s until a round of at least 1 MiB measured it
  bool paused_ = false;
  bool answered_ = false;
};

}  // namespace

Result<SendReport> send(Channel& channel, VmSource& vm, const SendOptions& options) {
  return Sender(channel, vm, options).run();
}

}  // namespace vessel::vmm::migration
