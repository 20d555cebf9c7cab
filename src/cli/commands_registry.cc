// image pull, push, save, tag; login, logout (docs/daemon/registry.md). Credentials are read from and
// written to the user's auth files (http/registry_credentials.h), as docker and podman do, and
// sent to vesseld with each request that needs them.
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "base/cli.h"
#include "base/fd.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "http/registry_credentials.h"

namespace vessel::cli {

namespace {

// The registry a reference names, by Docker's rule: a first component with '.' or ':' or
// "localhost"; otherwise docker.io.
std::string registry_of(const std::string& ref) {
  auto slash = ref.find('/');
  if (slash == std::string::npos) return "docker.io";
  std::string first = ref.substr(0, slash);
  bool domain = first.find_first_of(".:") != std::string::npos || first == "localhost" || first.starts_with("[");
  return domain ? first : "docker.io";
}

Result<std::string> read_password(bool from_stdin) {
  std::string password;
  if (from_stdin) {
    std::getline(std::cin, password);
  } else {
    if (!::isatty(0)) return Unexpected(Error(EINVAL, "no password").with_hint("pass --password-stdin and the password on standard input"));
    termios old{};
    ::tcgetattr(0, &old);
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(0, TCSANOW, &quiet);
    std::fprintf(stderr, "Password: ");
    std::getline(std::cin, password);
    ::tcsetattr(0, TCSANOW, &old);
    std::fprintf(stderr, "\n");
  }
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) password.pop_back();
  if (password.empty()) return fail(EINVAL, "the password is empty");
  return password;
}

}  // namespace

namespace {

// Adds the user's credentials for `ref`'s registry to a request body.
Result<void> add_credentials(const std::string& ref, json::Json& body) {
  auto credentials = TRY_CTX(http::find_credentials(registry_of(ref)), "credentials for {}", registry_of(ref));
  if (credentials) {
    body["username"] = credentials->username;
    body["password"] = credentials->password;
  }
  return {};
}

// A POST answered with JSON progress lines, then {"result": ...} or {"error": ...}: a bar on a
// terminal unless quiet, the lines themselves on stdout when json_lines. Returns the result.
Result<json::Json> with_progress(Client& client, const std::string& path, const json::Json& body, bool quiet,
                                 bool json_lines) {
  bool bar = !quiet && !json_lines && ::isatty(2);
  std::string pending;
  json::Json result;
  std::optional<Error> error;
  auto r = client.stream("POST", path, body.dump(), [&](std::string_view d) {
    pending.append(d);
    size_t nl;
    while ((nl = pending.find('\n')) != std::string::npos) {
      std::string text = pending.substr(0, nl);
      pending.erase(0, nl + 1);
      auto line = json::parse(text);
      if (!line || !line->is_object()) continue;
      if (json_lines && line->contains("progress")) fmt::print("{}\n", text);
      if (bar && line->contains("progress") && (*line)["done"].is_number() && (*line)["total"].is_number())
        std::fprintf(stderr, "\r%s", progress_bar((*line)["done"].get<uint64_t>(), (*line)["total"].get<uint64_t>(),
                                                  (*line)["progress"].get<std::string>()).c_str());
      if (line->contains("result")) result = (*line)["result"];
      if (line->contains("error")) error = error_from_response(400, text);
    }
    return true;
  });
  if (bar) std::fprintf(stderr, "\n");
  TRY(r);
  if (error) return Unexpected(std::move(*error));
  return result;
}

}  // namespace

Result<std::string> pull_image(Client& client, const std::string& ref, bool quiet, bool json_lines) {
  json::Json body = {{"ref", ref}};
  TRY(add_credentials(ref, body));
  auto result = TRY(with_progress(client, "/v1/images/pull?progress=1", body, quiet, json_lines));
  return result.is_object() ? result.value("name", "") : "";
}

// vessel login, vessel logout: Docker's credentials file, which podman and skopeo read too.
static void add_login_commands(CLI::App& app, Context& ctx) {
  {
    struct Flags { std::string server = "docker.io", user, password; bool password_stdin = false; };
    auto f = std::make_shared<Flags>();
    auto* c = app.add_subcommand("login", "log in to a registry: checks the credentials, then keeps them in ~/.docker/config.json");
    c->footer("Examples:\n  vessel login localhost:5000 -u alice --password-stdin < pass.txt\n"
              "The file is Docker's ($DOCKER_CONFIG/config.json or ~/.docker/config.json; \"auths\", base64\n"
              "user:password, mode 0600): docker, podman and skopeo read it too.");
    c->add_option("server", f->server, "registry host[:port] (default docker.io)");
    c->add_option("--username,-u", f->user, "user name")->required();
    c->add_option("--password,-p", f->password, "password (visible to other users in ps: prefer --password-stdin)");
    c->add_flag("--password-stdin", f->password_stdin, "read the password from standard input");
    c->callback([&ctx, f] {
      std::string password = f->password;
      if (password.empty()) {
        auto read = read_password(f->password_stdin);
        if (!read) { ctx.status = report(read.error()); return; }
        password = *read;
      }
      auto r = ctx.client().call("POST", "/v1/images/login",
                                 json::Json{{"server", f->server}, {"username", f->user}, {"password", password}});
      if (!r) { ctx.status = report(r.error()); return; }
      std::string file = http::docker_config_file();
      auto stored = http::store_credentials(file, f->server, http::Credentials{f->user, password});
      if (!stored) { ctx.status = report(stored.error()); return; }
      fmt::print("Login Succeeded ({})\n", file);
    });
  }
  {
    auto server = std::make_shared<std::string>("docker.io");
    auto* c = app.add_subcommand("logout", "forget the credentials of a registry (in ~/.docker/config.json)");
    c->add_option("server", *server, "registry host[:port] (default docker.io)");
    c->callback([&ctx, server] {
      auto removed = http::store_credentials(http::docker_config_file(), *server, std::nullopt);
      if (!removed) { ctx.status = report(removed.error()); return; }
      fmt::print("Removed login credentials for {}\n", *server);
    });
  }
}

void add_registry_commands(CLI::App& app, CLI::App& image, Context& ctx) {
  {
    struct Flags { std::string ref; bool quiet = false, json = false; };
    auto f = std::make_shared<Flags>();
    auto* c = image.add_subcommand("pull", "download an image from a registry into the store; prints its name");
    c->footer("Examples:\n  vessel image pull localhost:5000/busybox:latest\n  vessel image pull busybox      "
              "(docker.io/library/busybox:latest)\n  vessel image pull registry.example/app@sha256:<digest>\n"
              "Indexes resolve to linux/amd64. Layers are verified by digest, downloaded a few at a time,\n"
              "resumed after an interruption, and not downloaded again when the store has them.\n"
              "Credentials: `vessel login`, $REGISTRY_AUTH_FILE or ~/.docker/config.json. Plain HTTP only\n"
              "for loopback registries and vesseld --insecure-registry.");
    c->add_option("reference", f->ref, "[REGISTRY/]REPOSITORY[:TAG|@DIGEST]")->required();
    c->add_flag("--quiet,-q", f->quiet, "no progress bar; print only the image's name");
    c->add_flag("--json", f->json, "print the progress as JSON lines ({\"progress\", \"done\", \"total\"}), then the name");
    c->callback([&ctx, f] {
      auto client = ctx.client();
      auto name = pull_image(client, f->ref, f->quiet, f->json);
      if (!name) { ctx.status = report(name.error()); return; }
      fmt::print("{}\n", *name);
    });
  }
  {
    struct Flags { std::string image, ref; bool quiet = false, json = false; };
    auto f = std::make_shared<Flags>();
    auto* c = image.add_subcommand("push", "send an image of the store to a registry; prints its digest");
    c->footer("Examples:\n  vessel image push localhost:5000/team/bb:1.0     (an image pulled or tagged by that name)\n"
              "  vessel image push bb localhost:5000/team/bb:1.0\n"
              "Blobs the registry has are not sent again (HEAD), blobs of an image pulled from another\n"
              "repository of the same registry are mounted from it; larger blobs go in chunks\n"
              "(vesseld --registry-upload-chunk).");
    c->add_option("image", f->image, "the image's name in the store")->required();
    c->add_option("reference", f->ref, "where to: [REGISTRY/]REPOSITORY[:TAG] (default: the image's name)");
    c->add_flag("--quiet,-q", f->quiet, "no progress bar");
    c->add_flag("--json", f->json, "print the progress as JSON lines, then the result as JSON");
    c->callback([&ctx, f] {
      auto client = ctx.client();
      std::string ref = f->ref.empty() ? f->image : f->ref;
      json::Json body = {{"image", f->image}, {"ref", ref}};
      if (auto added = add_credentials(ref, body); !added) { ctx.status = report(added.error()); return; }
      auto r = with_progress(client, "/v1/images/push?progress=1", body, f->quiet, f->json);
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}\n", f->json ? r->dump() : r->value("digest", ""));
    });
  }
  {
    struct Flags { std::string image, output, format = "docker-archive"; };
    auto f = std::make_shared<Flags>();
    auto* c = image.add_subcommand("save", "write an image as a tar that podman, docker and skopeo load");
    c->footer("Examples:\n  vessel image save -o bb.tar localhost:5000/team/bb:1.0 && podman load -i bb.tar\n"
              "  vessel image save -o bb-oci.tar --format oci bb\n"
              "docker-archive layers are the uncompressed tars their diff_ids name; an OCI archive has the\n"
              "store's blobs as they are, and the pulled manifest (so the same digest) when there is one.");
    c->add_option("image", f->image, "the image's name in the store")->required();
    c->add_option("--output,-o", f->output, "the file to write (written under a temporary name, then renamed)")->required();
    c->add_option("--format", f->format, "docker-archive (default) or oci")->check(CLI::IsMember({"docker-archive", "oci", "oci-archive"}));
    c->callback([&ctx, f] {
      auto saved = [&]() -> Result<void> {
        std::string tmp = f->output + ".partial";
        Fd out = TRY(Fd::open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
        auto r = ctx.client().exchange("POST", "/v1/images/save", json::Json{{"image", f->image}, {"format", f->format}}.dump(),
                                       "application/json", [&](std::string_view d) { return write_all(out.get(), d).has_value(); });
        if (!r || r->status >= 400) {
          ::unlink(tmp.c_str());
          if (!r) return Unexpected(std::move(r).error());
          return Unexpected(error_from_response(r->status, r->body));
        }
        if (::rename(tmp.c_str(), f->output.c_str()) < 0) return fail_errno("rename {} to {}", tmp, f->output);
        return {};
      }();
      if (!saved) { ctx.status = report(saved.error()); return; }
      fmt::print("{}\n", f->output);
    });
  }
  {
    struct Flags { std::string source, target; };
    auto f = std::make_shared<Flags>();
    auto* c = image.add_subcommand("tag", "give an image another name (a plain name or a reference to push to)");
    c->footer("Example:\n  vessel image tag bb localhost:5000/team/bb:1.0");
    c->add_option("source", f->source, "an image's name")->required();
    c->add_option("target", f->target, "the new name")->required();
    c->callback([&ctx, f] {
      auto r = ctx.client().call("POST", "/v1/images/tag", json::Json{{"source", f->source}, {"target", f->target}});
      if (!r) { ctx.status = report(r.error()); return; }
      fmt::print("{}\n", r->value("name", ""));
    });
  }
  add_login_commands(app, ctx);
}

}  // namespace vessel::cli
