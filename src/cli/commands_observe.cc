// ls/ps, inspect, logs, top/stats, events
#include <unistd.h>

#include <ctime>
#include <thread>
#include <tuple>

#include "base/cli.h"
#include "cli/commands.h"
#include "cli/format.h"
#include "cli/instance_list.h"
#include "cli/log_time.h"
#include "cli/stats_sampler.h"

namespace vessel::cli {

namespace {

void add_ls(CLI::App& app, Context& ctx) {
  struct LsFlags {
    bool json = false, quiet = false;
    std::string format;
    std::vector<std::string> filters;
    InstanceFilter filter;
  };
  auto f = std::make_shared<LsFlags>();
  auto* c = app.add_subcommand("ls", "list instances (running ones; -a: all)");
  c->alias("ps");
  c->alias("list");
  c->add_flag("--all,-a", f->filter.all, "list every instance, not only running and paused ones");
  c->add_flag("--quiet,-q", f->quiet, "print only the names, one a line");
  c->add_option("--filter", f->filters, "KEY=VALUE: name= (a part of it), status=, label=KEY[=VALUE], type=vm|container; repeatable")
      ->take_all();
  c->add_option("--format", f->format, "table (the default) or json (one JSON object a line)");
  c->add_flag("--json", f->json, "print the list as one JSON array");
  c->footer("Columns: NAME TYPE IMAGE CREATED STATUS PORTS; STATUS as Docker's: Created, Up 3 minutes (healthy),\n"
            "Up 1 hour (Paused), Exited (137) 5 seconds ago, Restarting (1) 2 seconds ago, Suspended, Checkpointed.\n"
            "A status filter lists stopped ones without -a (status=exited is status=stopped). Values of one\n"
            "filter key are alternatives, labels must all match, different keys must all match.\n"
            "Examples:\n  vessel ls -a --filter status=exited -q\n  vessel ls --filter label=team=web --format json");
  c->callback([&ctx, f] {
    for (const auto& text : f->filters)
      if (auto added = add_filter(f->filter, text); !added) { ctx.status = report(added.error()); return; }
    if (!f->format.empty() && f->format != "table" && f->format != "json") {
      ctx.status = report(Error(EINVAL, fmt::format("--format {}: vessel ls prints table or json", f->format))
                              .with_hint("Go templates are not supported; use --format json with jq"));
      return;
    }
    auto r = ctx.client().call("GET", "/v1/instances");
    if (!r) { ctx.status = report(r.error()); return; }
    json::Json list = filter_instances(*r, f->filter);
    if (f->quiet) {
      for (const auto& i : list) fmt::print("{}\n", i.value("name", ""));
    } else if (f->json) {
      fmt::print("{}\n", list.dump(2));
    } else if (f->format == "json") {
      for (const auto& i : list) fmt::print("{}\n", i.dump());
    } else {
      fmt::print("{}", instances_table(list, static_cast<int64_t>(::time(nullptr))));
    }
  });
}

void add_inspect(CLI::App& app, Context& ctx) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto* c = app.add_subcommand("inspect", "print instances' full description as JSON");
  c->add_option("names", *names, "instance names")->required();
  c->callback([&ctx, names] {
    json::Json out = json::Json::array();
    for (const auto& n : *names) {
      auto r = ctx.client().call("GET", "/v1/instances/" + escape_segment(n));
      if (!r) ctx.status = report(r.error());
      else out.push_back(*r);
    }
    if (!out.empty()) fmt::print("{}\n", (names->size() == 1 ? out[0] : out).dump(2));
  });
}

void add_logs(CLI::App& app, Context& ctx) {
  struct LogsFlags {
    std::string name, since, until, tail;
    bool follow = false, timestamps = false;
  };
  auto f = std::make_shared<LogsFlags>();
  auto* c = app.add_subcommand("logs", "print an instance's output (container stdout/stderr, VM serial console)");
  c->add_option("name", f->name, "instance name")->required();
  c->add_flag("--follow,-f", f->follow, "keep printing new output until the instance stops");
  c->add_option("--tail,-n", f->tail, "only the last N lines (or all)");
  c->add_option("--since", f->since, "only lines since TIME: RFC 3339 (2026-12-05T19:30:00Z), unix seconds, or an age (10m, 1h30m)");
  c->add_option("--until", f->until, "only lines up to TIME (same forms as --since)");
  c->add_flag("--timestamps,-t", f->timestamps, "print the time each line arrived before it (RFC 3339, UTC)");
  c->footer("The log is capped and rotated by vesseld (vessel run --log-opt max-size=SIZE --log-opt max-file=N,\n"
            "default 10m x 3): this prints the rotated files and the current one as one stream, oldest first,\n"
            "and --follow carries on across rotations. vessel-shim stamps each line with the time it arrived;\n"
            "--since/--until/-t use that stamp (lines logged without one, by a vesseld without vessel-shim,\n"
            "show as they are). Examples:\n  vessel logs --tail 20 -f web\n  vessel logs --since 10m -t web");
  c->callback([&ctx, f] {
    std::string query = f->follow ? "&follow=1" : "";
    if (f->timestamps) query += "&timestamps=1";
    for (auto [flag, text, key] : {std::tuple{"--since", &f->since, "since"}, std::tuple{"--until", &f->until, "until"}}) {
      if (text->empty()) continue;
      auto at = parse_log_time(*text, flag);
      if (!at) { ctx.status = report(at.error()); return; }
      query += fmt::format("&{}={}", key, *at);
    }
    if (!f->tail.empty()) {
      if (f->tail != "all" && f->tail.find_first_not_of("0123456789") != std::string::npos) {
        ctx.status = report(Error(EINVAL, fmt::format("--tail {}: not a number of lines", f->tail)).with_hint("--tail 20 or --tail all"));
        return;
      }
      query += "&tail=" + f->tail;
    }
    if (!query.empty()) query[0] = '?';
    auto client = ctx.client();
    auto exists = client.call("GET", "/v1/instances/" + escape_segment(f->name));
    if (!exists) { ctx.status = report(exists.error()); return; }
    auto r = client.stream("GET", "/v1/instances/" + escape_segment(f->name) + "/logs" + query, "",
                           [](std::string_view d) {
                             (void)!::write(1, d.data(), d.size());
                             return true;
                           });
    if (!r) ctx.status = report(r.error());
  });
}

void add_stats(CLI::App& app, Context& ctx) {
  struct StatsFlags {
    std::vector<std::string> names;
    bool json = false, no_stream = false;
  };
  auto f = std::make_shared<StatsFlags>();
  auto* c = app.add_subcommand("stats", "CPU and memory use of instances, refreshed every second (--no-stream: once)");
  c->alias("top");
  c->add_option("names", f->names, "instance names (default: all running, as they come and go)");
  c->add_flag("--no-stream", f->no_stream, "print one sample (CPU over half a second) and exit");
  c->add_flag("--json", f->json, "print JSON: one array a sample, one a line (with --no-stream: one indented array)");
  c->footer("Streams until Ctrl-C, as `docker stats`; on a terminal the table is redrawn in place.\n"
            "Columns: NAME STATE CPU MEMORY LIMIT KSM SHARED (what KSM merged of a --ksm VM's RAM).\n"
            "Examples:\n  vessel stats\n  vessel stats --no-stream --json web");
  c->callback([&ctx, f] {
    auto client = ctx.client();
    StatsSampler sampler(client, f->names);
    auto first = sampler.sample();
    if (!first) { ctx.status = report(first.error()); return; }
    bool terminal = ::isatty(STDOUT_FILENO) == 1;
    for (auto interval = std::chrono::milliseconds(500);; interval = std::chrono::milliseconds(1000)) {
      std::this_thread::sleep_for(interval);
      auto rows = sampler.sample();
      if (!rows) { ctx.status = report(rows.error()); return; }
      ctx.status = sampler.status();
      if (sampler.gone()) return;  // every instance named is gone (each was reported)
      if (f->no_stream) {
        fmt::print("{}", f->json ? rows->dump(2) + "\n" : stats_table(*rows));
        return;
      }
      if (f->json) fmt::print("{}\n", rows->dump());
      else fmt::print("{}{}", terminal ? "\033[2J\033[H" : "", stats_table(*rows));
      std::fflush(stdout);
    }
  });
}

void add_events(CLI::App& app, Context& ctx) {
  auto* c = app.add_subcommand("events", "print every state change as a JSON line, as it happens (Ctrl-C to stop)");
  c->callback([&ctx] {
    // vesseld sends an empty line every 2 s of silence (to notice a gone client): not an event.
    std::string partial;
    auto r = ctx.client().stream("GET", "/v1/events", "", [&partial](std::string_view d) {
      partial.append(d);
      std::string lines;
      size_t start = 0;
      for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1)
        if (nl > start) lines.append(partial, start, nl + 1 - start);
      partial.erase(0, start);
      (void)!::write(1, lines.data(), lines.size());
      return true;
    });
    if (!r) ctx.status = report(r.error());
  });
}

}  // namespace

void add_observe_commands(CLI::App& app, Context& ctx) {
  add_ls(app, ctx);
  add_inspect(app, ctx);
  add_logs(app, ctx);
  add_stats(app, ctx);
  add_events(app, ctx);
}

}  // namespace vessel::cli
