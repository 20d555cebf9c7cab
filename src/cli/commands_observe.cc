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

namespace vessel::cli {

void add_observe_commands(CLI::App& app, Context& ctx) {
  {
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
  {
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
  {
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
  {
    auto names = std::make_shared<std::vector<std::string>>();
    auto as_json = std::make_shared<bool>(false);
    auto* c = app.add_subcommand("stats", "CPU and memory use of instances (sampled over half a second)");
    c->alias("top");
    c->add_option("names", *names, "instance names (default: all running)");
    c->add_flag("--json", *as_json, "print JSON");
    c->callback([&ctx, names, as_json] {
      auto client = ctx.client();
      std::vector<std::string> list = *names;
      if (list.empty()) {
        auto all = client.call("GET", "/v1/instances");
        if (!all) { ctx.status = report(all.error()); return; }
        for (const auto& i : *all)
          if (i.value("state", "") == "running" || i.value("state", "") == "paused") list.push_back(i.value("name", ""));
      }
      auto sample = [&](std::map<std::string, json::Json>& out) {
        for (const auto& n : list) {
          auto r = client.call("GET", "/v1/instances/" + escape_segment(n) + "/stats");
          if (!r) { ctx.status = report(r.error()); continue; }
          out[n] = *r;
        }
      };
      std::map<std::string, json::Json> a, b;
      sample(a);
      auto t0 = std::chrono::steady_clock::now();
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      sample(b);
      double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      json::Json out = json::Json::array();
      std::vector<std::vector<std::string>> rows;
      for (const auto& [n, s] : b) {
        double cpu = a.count(n) ? static_cast<double>(s.value("cpu_ns", uint64_t{0}) - a[n].value("cpu_ns", uint64_t{0})) / 1e9 / dt * 100 : 0;
        json::Json row = s;
        row["cpu_percent"] = cpu;
        out.push_back(row);
        // KSM SHARED: what KSM merged of a --ksm VM's RAM ("-" for the others).
        std::string shared = s.contains("ksm_merged_bytes") ? human_bytes(s.value("ksm_merged_bytes", uint64_t{0})) : "-";
        rows.push_back({n, s.value("state", ""), fmt::format("{:.1f}%", cpu), human_bytes(s.value("memory_bytes", uint64_t{0})),
                        human_bytes(s.value("memory_limit_bytes", uint64_t{0})), shared});
      }
      fmt::print("{}", *as_json ? out.dump(2) + "\n"
                                : render_table({"NAME", "STATE", "CPU", "MEMORY", "LIMIT", "KSM SHARED"}, rows));
    });
  }
  {
    auto* c = app.add_subcommand("events", "print every state change as a JSON line, as it happens (Ctrl-C to stop)");
    c->callback([&ctx] {
      auto r = ctx.client().stream("GET", "/v1/events", "", [](std::string_view d) {
        (void)!::write(1, d.data(), d.size());
        return true;
      });
      if (!r) ctx.status = report(r.error());
    });
  }
}

}  // namespace vessel::cli
