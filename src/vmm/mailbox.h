// How threads talk in vessel-vmm (docs/design.md rule 4): one thread owns some state and a
// Mailbox; other threads post messages to it (a queue) and wake it (an eventfd it polls). A sender
// that needs an answer waits on the reply channel that travels with its message.
#pragma once

#include <sys/eventfd.h>

#include <deque>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "base/error.h"
#include "base/fd.h"

namespace vessel::vmm {

template <typename Message, typename Reply = std::monostate>
class Mailbox {
 public:
  static Result<std::unique_ptr<Mailbox>> create() {
    auto wake = TRY(EventFd::create(0, EFD_NONBLOCK | EFD_CLOEXEC));
    return std::unique_ptr<Mailbox>(new Mailbox(std::move(wake)));
  }
  Mailbox(const Mailbox&) = delete;
  Mailbox& operator=(const Mailbox&) = delete;

  // Sender side (any thread). Waits for the owner's answer; nullopt once the mailbox is closed.
  std::optional<Reply> call(Message message) {
    std::promise<std::optional<Reply>> reply;
    auto answer = reply.get_future();
    push(Envelope{std::move(message), std::move(reply)});
    return answer.get();
  }
  // Delivers without waiting for an answer; false (the message is dropped) once closed.
  bool post(Message message) { return push(Envelope{std::move(message), std::nullopt}); }

  // Owner side: poll fd() for POLLIN, then serve().
  int fd() const { return wake_.fd(); }
  // Hands every queued message, oldest first, to handler(Message&) and sends its return value
  // back to a waiting sender. Returns how many messages were handled.
  template <typename Handler>
  size_t serve(Handler&& handler) {
    (void)wake_.consume();
    std::deque<Envelope> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(queue_);
    }
    for (auto& e : batch) {
      if constexpr (std::is_void_v<std::invoke_result_t<Handler&, Message&>>) {
        handler(e.message);
        if (e.reply) e.reply->set_value(Reply{});
      } else {
        Reply r = handler(e.message);
        if (e.reply) e.reply->set_value(std::move(r));
      }
    }
    return batch.size();
  }
  // The owner stops listening: queued and later calls get nullopt, later posts are dropped.
  void close() {
    std::deque<Envelope> dropped;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      dropped.swap(queue_);
    }
    for (auto& e : dropped)
      if (e.reply) e.reply->set_value(std::nullopt);
    (void)wake_.signal();
  }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }

 private:
  struct Envelope {
    Message message;
    std::optional<std::promise<std::optional<Reply>>> reply;  // empty for post()
  };

  explicit Mailbox(EventFd wake) : wake_(std::move(wake)) {}

  bool push(Envelope e) {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        queue_.push_back(std::move(e));
        (void)wake_.signal();
        return true;
      }
    }
    if (e.reply) e.reply->set_value(std::nullopt);
    return false;
  }

  EventFd wake_;
  mutable std::mutex mu_;
  std::deque<Envelope> queue_;
  bool closed_ = false;
};

}  // namespace vessel::vmm
