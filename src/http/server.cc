#include <fcntl.h>
#include <microhttpd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include "base/fd.h"
#include "http/http.h"
#include "http/tls_front.h"
#include "base/log.h"
#include "base/unix_socket.h"

namespace vessel::http {

Response Response::json(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

struct Server::Impl {
  Handler handler;
  ServerOptions options;
  MHD_Daemon* daemon = nullptr;
  std::shared_ptr<TlsFront> tls;  // TLS listeners: the connections' front
  std::string unix_path;
  // Upgraded connections still running (Response::upgrade), shut down on destruction.
  std::mutex upgraded_mutex;
  std::condition_variable upgraded_cv;
  std::set<int> upgraded;
  bool stopping = false;
  // Requests from their first byte until their answer is sent (drain()).
  std::mutex in_flight_mutex;
  std::condition_variable in_flight_cv;
  int in_flight = 0;
};

namespace {

// The 413 answer to a body over the limit: the server's own, or the caller's (options.too_large).
Response too_large_response(const ServerOptions& o, size_t limit) {
  if (o.too_large) return o.too_large(limit);
  return Response::json(413, fmt::format("{{\"error\":\"request body is larger than {} bytes\"}}", limit));
}

// Per-request state kept by libmicrohttpd between calls of the access handler.
struct Pending {
  Request request;
  bool too_large = false;
  size_t limit = 0;  // the body limit of this request
};

struct Stream {
  std::function<bool(std::string&)> next;
  std::string buffer;
  size_t offset = 0;
  bool done = false;
};

ssize_t stream_reader(void* cls, uint64_t /*pos*/, char* buf, size_t max) {
  auto* s = static_cast<Stream*>(cls);
  while (s->offset >= s->buffer.size()) {
    if (s->done) return MHD_CONTENT_READER_END_OF_STREAM;
    s->buffer.clear();
    s->offset = 0;
    if (!s->next(s->buffer)) s->done = true;
  }
  size_t n = std::min(max, s->buffer.size() - s->offset);
  std::memcpy(buf, s->buffer.data() + s->offset, n);
  s->offset += n;
  return static_cast<ssize_t>(n);
}

void stream_free(void* cls) { delete static_cast<Stream*>(cls); }

MHD_Result collect_request_value(void* cls, MHD_ValueKind, const char* key, const char* value) {
  auto* map = static_cast<std::map<std::string, std::string>*>(cls);
  std::string k = key;
  for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  (*map)[k] = value ? value : "";
  return MHD_YES;
}

struct Upgrade {
  Server::Impl* impl;
  std::function<void(int, std::string)> run;
};

// libmicrohttpd hands over the socket; the session runs on its own thread and the connection is
// closed (through libmicrohttpd, which owns the socket) when it ends.
void upgrade_handler(void* cls, MHD_Connection*, void*, const char* extra_in, size_t extra_in_size, MHD_socket sock,
                     MHD_UpgradeResponseHandle* urh) {
  // One response per upgrade: its closure is ours now (lost only if the 101 never reached the client).
  std::unique_ptr<Upgrade> u(static_cast<Upgrade*>(cls));
  Server::Impl* impl = u->impl;
  {
    std::lock_guard lock(impl->upgraded_mutex);
    if (impl->stopping) {
      MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
      return;
    }
    impl->upgraded.insert(sock);
  }
  // libmicrohttpd made `sock` non-blocking: sessions expect a blocking socket (a send to a slow
  // client must wait, not fail with EAGAIN and cut the stream).
  if (int flags = ::fcntl(sock, F_GETFL); flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(sock, F_SETFL, flags & ~O_NONBLOCK);
  std::string early(extra_in ? extra_in : "", extra_in ? extra_in_size : 0);
  std::thread([impl, run = u->run, sock, urh, early = std::move(early)]() mutable {
    run(sock, std::move(early));
    std::lock_guard lock(impl->upgraded_mutex);
    impl->upgraded.erase(sock);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
    impl->upgraded_cv.notify_all();
  }).detach();
}

MHD_Result send(MHD_Connection* connection, Response response, Server::Impl* impl = nullptr) {
  MHD_Response* r;
  if (response.upgrade && impl != nullptr) {
    MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    auto* u = new Upgrade{impl, std::move(response.upgrade)};
    r = MHD_create_response_for_upgrade(upgrade_handler, u);
    if (r == nullptr) {
      delete u;
      return MHD_NO;
    }
    MHD_add_response_header(r, "Connection", "Upgrade");
    for (const auto& [k, v] : response.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
    MHD_Result ret = MHD_queue_response(connection, MHD_HTTP_SWITCHING_PROTOCOLS, r);
    MHD_destroy_response(r);
    return ret;
  }
  if (response.stream) {
    // A stream may be silent for long (logs --follow of a quiet guest): the idle timeout is for
    // clients that do not send their request, not for answers we are still producing.
    MHD_set_connection_option(connection, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
    auto* s = new Stream{std::move(response.stream), {}, 0, false};
    r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_reader, s, stream_free);
  } else {
    r = MHD_create_response_from_buffer(response.body.size(), response.body.data(),
                                        MHD_RESPMEM_MUST_COPY);
  }
  if (r == nullptr) return MHD_NO;
  if (!response.content_type.empty())
    MHD_add_response_header(r, "Content-Type", response.content_type.c_str());
  for (const auto& [k, v] : response.headers) MHD_add_response_header(r, k.c_str(), v.c_str());
  MHD_Result ret = MHD_queue_response(connection, static_cast<unsigned>(response.status), r);
  MHD_destroy_response(r);
  return ret;
}

MHD_Result access_handler(void* cls, MHD_Connection* connection, const char* url, const char* method,
                          const char* /*version*/, const char* upload_data, size_t* upload_size,
                          void** con_cls) {
  auto* impl = static_cast<Server::Impl*>(cls);
  auto* pending = static_cast<Pending*>(*con_cls);
  if (pending == nullptr) {
    {
      std::lock_guard lock(impl->in_flight_mutex);
      ++impl->in_flight;
    }
    pending = new Pending;
    pending->request.method = method;
    pending->request.path = url;
    MHD_get_connection_values(connection, MHD_HEADER_KIND, collect_request_value, &pending->request.headers);
    MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, collect_request_value,
                              &pending->request.query);
    if (!impl->options.tls_cert_pem.empty()) {
      pending->request.tls = true;
      pending->request.client_cert_sha256 = TlsFront::client_cert_sha256(connection);
    }
    pending->limit = impl->options.max_body_for ? impl->options.max_body_for(pending->request)
                                                : impl->options.max_body_bytes;
    *con_cls = pending;
    // Refuse a declared oversized body before reading any of it.
    auto it = pending->request.headers.find("content-length");
    if (it != pending->request.headers.end()) {
      char* end = nullptr;
      unsigned long long n = std::strtoull(it->second.c_str(), &end, 10);
      if (n > pending->limit) {
        // Answer at once: the body is never read (the connection closes after the answer).
        pending->too_large = true;
        Response r = too_large_response(impl->options, pending->limit);
        return send(connection, std::move(r));
      }
    }
    return MHD_YES;
  }
  if (*upload_size != 0) {
    if (!pending->too_large) {
      if (pending->request.body.size() + *upload_size > pending->limit)
        pending->too_large = true;
      else
        pending->request.body.append(upload_data, *upload_size);
    }
    *upload_size = 0;
    return MHD_YES;
  }
  if (pending->too_large) {
    Response r = too_large_response(impl->options, pending->limit);
    return send(connection, std::move(r));
  }
  Response response;
  try {
    response = impl->handler(pending->request);
  } catch (const std::exception& e) {
    log::error("HTTP handler for {} {} threw: {}", pending->request.method, pending->request.path,
               e.what());
    response = Response::json(500, R"({"error":"internal error"})");
  }
  return send(connection, std::move(response), impl);
}

void request_completed(void* cls, MHD_Connection*, void** con_cls, MHD_RequestTerminationCode) {
  if (*con_cls == nullptr) return;
  delete static_cast<Pending*>(*con_cls);
  *con_cls = nullptr;
  auto* impl = static_cast<Server::Impl*>(cls);
  std::lock_guard lock(impl->in_flight_mutex);
  --impl->in_flight;
  impl->in_flight_cv.notify_all();
}

}  // namespace

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void Server::drain(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->in_flight_mutex);
  impl_->in_flight_cv.wait_for(lock, timeout, [&] { return impl_->in_flight == 0; });
}

Server::~Server() {
  if (impl_) {
    // Upgraded sessions end when their socket does: shut them down and wait (bounded).
    std::unique_lock lock(impl_->upgraded_mutex);
    impl_->stopping = true;
    for (int fd : impl_->upgraded) ::shutdown(fd, SHUT_RDWR);
    impl_->upgraded_cv.wait_for(lock, std::chrono::seconds(5), [&] { return impl_->upgraded.empty(); });
  }
  if (impl_ && impl_->tls) impl_->tls->stop();  // no connection handed over to a stopping daemon
  if (impl_ && impl_->daemon) MHD_stop_daemon(impl_->daemon);
  if (impl_ && !impl_->unix_path.empty()) ::unlink(impl_->unix_path.c_str());
}

Result<std::unique_ptr<Server>> Server::listen_fd(int fd, Handler handler, ServerOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->handler = std::move(handler);
  impl->options = std::move(options);
  unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_SUPPRESS_DATE_NO_CLOCK | MHD_ALLOW_UPGRADE;
  // TLS is terminated in front of libmicrohttpd (http/tls_front.h), which then listens on nothing.
  if (!impl->options.tls_cert_pem.empty()) {
    impl->tls = TRY(TlsFront::start(fd, impl->options.tls_cert_pem, impl->options.tls_key_pem,
                                    impl->options.max_connections));
    impl->daemon = MHD_start_daemon(
        flags | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC, 0, nullptr, nullptr, &access_handler, impl.get(),
        MHD_OPTION_NOTIFY_COMPLETED, &request_completed, impl.get(), MHD_OPTION_NOTIFY_CONNECTION,
        &TlsFront::notify_connection, impl->tls.get(), MHD_OPTION_CONNECTION_TIMEOUT,
        static_cast<unsigned>(impl->options.idle_timeout.count()), MHD_OPTION_CONNECTION_LIMIT,
        impl->options.max_connections, MHD_OPTION_END);
    if (impl->daemon == nullptr) return fail(EIO, "cannot start the HTTP server");
    impl->tls->attach(impl->daemon);
    return std::unique_ptr<Server>(new Server(std::move(impl)));
  }
  impl->daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &access_handler, impl.get(), MHD_OPTION_LISTEN_SOCKET, fd,
      MHD_OPTION_NOTIFY_COMPLETED, &request_completed, impl.get(), MHD_OPTION_CONNECTION_TIMEOUT,
      static_cast<unsigned>(impl->options.idle_timeout.count()), MHD_OPTION_CONNECTION_LIMIT,
      impl->options.max_connections, MHD_OPTION_END);
  if (impl->daemon == nullptr) {
    ::close(fd);
    return fail(EIO, "cannot start the HTTP server");
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Result<std::unique_ptr<Server>> Server::listen_unix(const std::string& path, mode_t mode,
                                                    Handler handler, ServerOptions options) {
  Fd fd = TRY(unix_socket::listen(path, {.mode = mode}));
  auto server = TRY(listen_fd(fd.release(), std::move(handler), std::move(options)));
  server->impl_->unix_path = path;
  return server;
}

}  // namespace vessel::http
