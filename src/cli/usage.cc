#include "cli/usage.h"

#include "base/cli.h"

namespace vessel::cli {

int report_parse_error(CLI::App& app, const CLI::ParseError& error) {
  if (error.get_exit_code() == 0) return app.exit(error);  // --help and friends
  // The verbs the user typed, outermost first ("vessel image import").
  std::string path = app.get_name();
  for (CLI::App* at = &app;;) {
    CLI::App* next = nullptr;
    for (CLI::App* sub : at->get_subcommands())
      if (sub->parsed()) next = sub;
    if (!next) break;
    path += " " + next->get_name();
    at = next;
  }
  std::string message = error.what();
  if (message.empty()) message = error.get_name();
  // "vessel frobnicate": CLI11 only says a verb is missing; say which word is not one.
  auto extra = app.remaining();
  if (path == app.get_name() && !extra.empty() && !extra.front().empty() && extra.front()[0] != '-')
    message = fmt::format("'{}' is not a {} command", extra.front(), app.get_name());
  print_error(app.get_name(), Error(0, message).with_hint(fmt::format("see `{} --help`", path)));
  return kExitUsage;
}

}  // namespace vessel::cli
