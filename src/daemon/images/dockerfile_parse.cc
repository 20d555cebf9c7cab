// Dockerfile text -> instructions -> stages (dockerfile.h). Three passes over the text: the
// parser directives at its top, then logical lines (comments dropped, continuations joined), then
// one instruction per logical line with its flags and form.
#include <algorithm>
#include <array>
#include <cctype>

#include "base/json.h"
#include "daemon/images/dockerfile.h"

namespace vessel::daemon::dockerfile {

namespace {

constexpr size_t kMaxBytes = 4 << 20;  // BuildKit refuses far less; a bound for a hostile client
constexpr size_t kMaxInstructions = 10000;

constexpr std::array kInstructions{"ADD",     "ARG",        "CMD",   "COPY",       "ENTRYPOINT", "ENV",
                                   "EXPOSE",  "FROM",       "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD",
                                   "RUN",     "SHELL",      "STOPSIGNAL",  "USER",  "VOLUME",     "WORKDIR"};

// The flags each instruction takes (the reference's, BuildKit's included).
std::vector<std::string_view> flags_of(std::string_view keyword) {
  if (keyword == "FROM") return {"platform"};
  if (keyword == "RUN") return {"mount", "network", "security"};
  if (keyword == "COPY") return {"from", "chown", "chmod", "link", "parents", "exclude"};
  if (keyword == "ADD") return {"chown", "chmod", "link", "keep-git-dir", "checksum", "exclude"};
  if (keyword == "HEALTHCHECK") return {"interval", "timeout", "start-period", "start-interval", "retries"};
  return {};
}

bool takes_exec_form(std::string_view keyword) {
  for (std::string_view k : {"RUN", "CMD", "ENTRYPOINT", "SHELL", "COPY", "ADD", "VOLUME"})
    if (keyword == k) return true;
  return false;
}

template <typename... Args>
Unexpected error_at(Position at, fmt::format_string<Args...> format, Args&&... args) {
  return fail(EINVAL, "Dockerfile line {}, column {}: {}", at.line, at.column,
              fmt::format(format, std::forward<Args>(args)...));
}

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back())) s.remove_suffix(1);
  return s;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Line {
  std::string_view text;
  int number;
};

std::vector<Line> split_lines(std::string_view text) {
  std::vector<Line> lines;
  int number = 1;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back({line, number++});
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

// "# name=value" at the top of the file; anything else ends the directives.
std::optional<std::pair<std::string, std::string>> directive(std::string_view line) {
  line = trim(line);
  if (line.empty() || line.front() != '#') return std::nullopt;
  line = trim(line.substr(1));
  size_t eq = line.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  std::string_view name = trim(line.substr(0, eq));
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }))
    return std::nullopt;
  return std::pair{lower(name), std::string(trim(line.substr(eq + 1)))};
}

// Reads the directives; returns the index of the first line after them.
Result<size_t> read_directives(const std::vector<Line>& lines, Dockerfile& out) {
  std::vector<std::string> seen;
  size_t i = 0;
  for (; i < lines.size(); ++i) {
    auto d = directive(lines[i].text);
    if (!d || (d->first != "syntax" && d->first != "escape" && d->first != "check")) break;
    Position at{lines[i].number, 1};
    if (std::find(seen.begin(), seen.end(), d->first) != seen.end())
      return error_at(at, "the parser directive {} is given twice", d->first);
    seen.push_back(d->first);
    if (d->first == "syntax") out.syntax = d->second;
    if (d->first == "escape") {
      if (d->second != "\\" && d->second != "`")
        return error_at(at, "invalid escape character '{}': use '\\' or '`'", d->second);
      out.escape = d->second[0];
    }
  }
  return i;
}

struct LogicalLine {
  std::string text;
  Position at;
};

// Comments dropped, a line ending in the escape character joined with the next one (comment and
// empty lines inside a continuation are skipped, as Docker does).
std::vector<LogicalLine> logical_lines(const std::vector<Line>& lines, size_t from, char escape) {
  std::vector<LogicalLine> out;
  std::optional<LogicalLine> open;
  for (size_t i = from; i < lines.size(); ++i) {
    std::string_view text = lines[i].text;
    std::string_view stripped = trim(text);
    if (!stripped.empty() && stripped.front() == '#') continue;
    if (stripped.empty()) continue;
    if (!open) {
      size_t indent = text.find_first_not_of(" \t\r\f\v");
      open = LogicalLine{{}, {lines[i].number, static_cast<int>(indent) + 1}};
      text = text.substr(indent);
    }
    std::string_view right = text;
    while (!right.empty() && is_blank(right.back())) right.remove_suffix(1);
    if (!right.empty() && right.back() == escape) {
      open->text += right.substr(0, right.size() - 1);
      continue;
    }
    open->text += text;
    out.push_back(std::move(*open));
    open.reset();
  }
  if (open && !trim(open->text).empty()) out.push_back(std::move(*open));  // a continuation at EOF
  return out;
}

// Leading --name[=value] flags; `rest` is left after them.
Result<std::vector<std::pair<std::string, std::string>>> take_flags(std::string_view& rest, std::string_view keyword,
                                                                     Position at) {
  std::vector<std::pair<std::string, std::string>> flags;
  auto known = flags_of(keyword);
  for (;;) {
    rest = trim(rest);
    if (rest.substr(0, 2) != "--") return flags;
    size_t end = 0;
    while (end < rest.size() && !is_blank(rest[end])) ++end;
    std::string_view token = rest.substr(2, end - 2);
    rest.remove_prefix(end);
    size_t eq = token.find('=');
    std::string name(token.substr(0, eq));
    std::string value(eq == std::string_view::npos ? std::string_view() : token.substr(eq + 1));
    if (name.empty()) return error_at(at, "{}: an empty flag name ('--')", keyword);
    if (std::find(known.begin(), known.end(), name) == known.end())
      return error_at(at, "{} has no flag --{}", keyword, name);
    flags.emplace_back(std::move(name), std::move(value));
  }
}

// The JSON array form: an array of strings; anything else is the shell form.
std::optional<std::vector<std::string>> exec_form(std::string_view args) {
  if (args.empty() || args.front() != '[') return std::nullopt;
  auto j = json::parse(args, kMaxBytes, 2);
  if (!j || !j->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& e : *j) {
    if (!e.is_string()) return std::nullopt;
    out.push_back(e.get<std::string>());
  }
  return out;
}

Result<Instruction> parse_instruction(std::string_view text, Position at, bool in_onbuild);

// HEALTHCHECK [flags] NONE | CMD command
Result<void> parse_healthcheck(Instruction& in) {
  std::string_view rest = in.args;
  size_t end = 0;
  while (end < rest.size() && !is_blank(rest[end])) ++end;
  in.sub = upper(rest.substr(0, end));
  rest = trim(rest.substr(end));
  if (in.sub == "NONE") {
    if (!rest.empty() || !in.flags.empty()) return error_at(in.at, "HEALTHCHECK NONE takes no arguments or flags");
  } else if (in.sub == "CMD") {
    if (rest.empty()) return error_at(in.at, "HEALTHCHECK CMD needs a command");
    in.exec = exec_form(rest);
  } else {
    return error_at(in.at, "HEALTHCHECK takes CMD or NONE, not '{}'", in.sub);
  }
  in.args = std::string(rest);
  return {};
}

Result<void> parse_onbuild(Instruction& in) {
  auto trigger = TRY(parse_instruction(in.args, in.at, true));
  in.trigger.push_back(std::move(trigger));
  return {};
}

Result<Instruction> parse_instruction(std::string_view text, Position at, bool in_onbuild) {
  text = trim(text);
  size_t end = 0;
  while (end < text.size() && !is_blank(text[end])) ++end;
  Instruction in;
  in.at = at;
  in.keyword = upper(text.substr(0, end));
  if (!is_instruction(in.keyword))
    return error_at(at, "unknown instruction {}", std::string(text.substr(0, std::min<size_t>(end, 64))));
  if (in_onbuild && (in.keyword == "ONBUILD" || in.keyword == "FROM" || in.keyword == "MAINTAINER"))
    return error_at(at, "ONBUILD cannot trigger {}", in.keyword);
  std::string_view rest = text.substr(end);
  in.flags = TRY(take_flags(rest, in.keyword, at));
  in.args = std::string(trim(rest));
  if (in.args.empty()) return error_at(at, "{} needs arguments", in.keyword);
  if (takes_exec_form(in.keyword)) in.exec = exec_form(in.args);
  if (in.keyword == "SHELL" && !in.exec) return error_at(at, "SHELL takes a JSON array, e.g. SHELL [\"/bin/sh\", \"-c\"]");
  if (in.keyword == "HEALTHCHECK") TRY(parse_healthcheck(in));
  if (in.keyword == "ONBUILD") TRY(parse_onbuild(in));
  return in;
}

bool valid_stage_name(std::string_view name) {
  if (name.empty() || !std::isalpha(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

// FROM [--platform=...] image [AS name]
Result<Stage> start_stage(Instruction from, const std::vector<Stage>& earlier) {
  std::vector<std::string_view> words;
  std::string_view rest = from.args;
  while (!(rest = trim(rest)).empty()) {
    size_t end = 0;
    while (end < rest.size() && !is_blank(rest[end])) ++end;
    words.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  Stage stage;
  if (words.size() == 3 && upper(words[1]) == "AS") {
    stage.name = lower(words[2]);
    if (!valid_stage_name(stage.name))
      return error_at(from.at, "invalid stage name '{}': a letter, then letters, digits, '-', '_' or '.'", words[2]);
    for (const auto& s : earlier)
      if (s.name == stage.name) return error_at(from.at, "the stage name '{}' is used twice", stage.name);
  } else if (words.size() != 1) {
    return error_at(from.at, "FROM takes an image and optionally 'AS name'");
  }
  stage.base = std::string(words[0]);
  stage.from = std::move(from);
  return stage;
}

}  // namespace

std::optional<std::string> Instruction::flag(std::string_view name) const {
  for (const auto& [n, v] : flags)
    if (n == name) return v;
  return std::nullopt;
}

bool is_instruction(std::string_view upper_name) {
  return std::find(kInstructions.begin(), kInstructions.end(), upper_name) != kInstructions.end();
}

Result<size_t> Dockerfile::target(std::string_view name) const {
  if (stages.empty()) return fail(EINVAL, "the Dockerfile has no stage");
  if (name.empty()) return stages.size() - 1;
  std::string wanted = lower(name);
  for (size_t i = 0; i < stages.size(); ++i)
    if (stages[i].name == wanted) return i;
  return fail(ENOENT, "the Dockerfile has no stage named '{}' (--target)", name);
}

Result<Dockerfile> parse(std::string_view text) {
  if (text.size() > kMaxBytes) return fail(EFBIG, "the Dockerfile is larger than {} MiB", kMaxBytes >> 20);
  if (text.find('\0') != std::string_view::npos) return fail(EINVAL, "the Dockerfile contains a NUL byte: not a text file");
  Dockerfile out;
  auto lines = split_lines(text);
  size_t first = TRY(read_directives(lines, out));
  auto logical = logical_lines(lines, first, out.escape);
  if (logical.size() > kMaxInstructions) return fail(EFBIG, "the Dockerfile has more than {} instructions", kMaxInstructions);
  for (auto& line : logical) {
    auto in = TRY(parse_instruction(line.text, line.at, false));
    if (in.keyword == "FROM") {
      out.stages.push_back(TRY(start_stage(std::move(in), out.stages)));
    } else if (!out.stages.empty()) {
      out.stages.back().instructions.push_back(std::move(in));
    } else if (in.keyword == "ARG") {
      out.global_args.push_back(std::move(in));
    } else {
      return error_at(in.at, "{} before the first FROM: only ARG may come before it", in.keyword);
    }
  }
  if (out.stages.empty()) return fail(EINVAL, "the Dockerfile has no FROM instruction");
  return out;
}

}  // namespace vessel::daemon::dockerfile
