#include "daemon/images/dockerfile_words.h"

#include <cctype>

namespace vessel::daemon::dockerfile {

namespace {

constexpr int kMaxNesting = 16;  // ${a:-${b:-${c...}}}: bounded, the text is a client's

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v'; }
bool name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  Lexer(std::string_view text, const Vars& vars, char escape, bool split, int depth)
      : s_(text), vars_(vars), esc_(escape), split_(split), depth_(depth) {}

  Result<std::vector<std::string>> run();

 private:
  void put(char c);                // into the current word (a separator when splitting)
  void put_expanded(std::string_view value);
  Result<void> single_quoted();    // after the opening '
  Result<void> double_quoted();    // after the opening "
  Result<std::string> variable();  // after the '$'
  Result<std::string> braced();    // after the "${"
  Result<std::string> operand();   // the word of ${NAME:-word}, up to its '}'

  std::string_view s_;
  size_t i_ = 0;
  const Vars& vars_;
  char esc_;
  bool split_;
  int depth_;
  std::vector<std::string> words_;
  std::string word_;
  bool in_word_ = false;
};

void Lexer::put(char c) {
  word_ += c;
  in_word_ = true;
}

void Lexer::put_expanded(std::string_view value) {
  for (char c : value) {
    if (split_ && is_space(c)) {  // an unquoted value is split, as a shell splits it
      if (in_word_) words_.push_back(std::move(word_));
      word_.clear();
      in_word_ = false;
    } else {
      put(c);
    }
  }
}

Result<std::vector<std::string>> Lexer::run() {
  while (i_ < s_.size()) {
    char c = s_[i_++];
    if (split_ && is_space(c)) {
      if (in_word_) words_.push_back(std::move(word_));
      word_.clear();
      in_word_ = false;
    } else if (c == esc_) {
      put(i_ < s_.size() ? s_[i_++] : c);  // a trailing escape character is itself
    } else if (c == '\'') {
      in_word_ = true;
      TRY(single_quoted());
    } else if (c == '"') {
      in_word_ = true;
      TRY(double_quoted());
    } else if (c == '$') {
      put_expanded(TRY(variable()));
    } else {
      put(c);
    }
  }
  if (in_word_ || !split_) words_.push_back(std::move(word_));
  return std::move(words_);
}

Result<void> Lexer::single_quoted() {
  size_t end = s_.find('\'', i_);
  if (end == std::string_view::npos) return fail(EINVAL, "unterminated single quote in '{}'", s_);
  word_ += s_.substr(i_, end - i_);
  i_ = end + 1;
  return {};
}

Result<void> Lexer::double_quoted() {
  while (i_ < s_.size()) {
    char c = s_[i_++];
    if (c == '"') return {};
    if (c == esc_ && i_ < s_.size() && (s_[i_] == '"' || s_[i_] == '$' || s_[i_] == esc_)) {
      word_ += s_[i_++];
    } else if (c == '$') {
      word_ += TRY(variable());  // quoted: never split
    } else {
      word_ += c;
    }
  }
  return fail(EINVAL, "unterminated double quote in '{}'", s_);
}

Result<std::string> Lexer::variable() {
  if (i_ < s_.size() && s_[i_] == '{') {
    ++i_;
    return braced();
  }
  if (i_ >= s_.size() || !name_start(s_[i_])) return std::string("$");  // a lone '$' is itself
  size_t start = i_;
  while (i_ < s_.size() && name_char(s_[i_])) ++i_;
  auto it = vars_.find(s_.substr(start, i_ - start));
  return it == vars_.end() ? std::string() : it->second;
}

Result<std::string> Lexer::braced() {
  size_t start = i_;
  while (i_ < s_.size() && name_char(s_[i_])) ++i_;
  std::string_view name = s_.substr(start, i_ - start);
  if (name.empty() || !name_start(name[0])) return fail(EINVAL, "bad variable name after '${{' in '{}'", s_);
  if (i_ >= s_.size()) return fail(EINVAL, "unterminated '${{{}' in '{}'", name, s_);
  auto it = vars_.find(name);
  bool set = it != vars_.end();
  if (s_[i_] == '}') {
    ++i_;
    return set ? it->second : std::string();
  }
  bool colon = s_[i_] == ':';
  if (colon) ++i_;
  if (i_ >= s_.size() || (s_[i_] != '-' && s_[i_] != '+' && s_[i_] != '?'))
    return fail(EINVAL, "unsupported modifier in '${{{}...}}' (the Dockerfile reference has :-, :+ and :?)", name);
  char op = s_[i_++];
  std::string word = TRY(operand());
  bool present = colon ? set && !it->second.empty() : set;
  switch (op) {
    case '-': return present ? it->second : word;
    case '+': return present ? word : std::string();
    default:
      if (present) return it->second;
      return fail(EINVAL, "{}: {}", name, word.empty() ? "is not set" : word);
  }
}

Result<std::string> Lexer::operand() {
  // The raw text up to the matching '}', then processed as a word of its own.
  size_t start = i_;
  int open = 1;
  bool single = false, dbl = false;
  for (; i_ < s_.size(); ++i_) {
    char c = s_[i_];
    if (c == esc_ && !single) {
      ++i_;
    } else if (c == '\'' && !dbl) {
      single = !single;
    } else if (c == '"' && !single) {
      dbl = !dbl;
    } else if (!single && c == '$' && i_ + 1 < s_.size() && s_[i_ + 1] == '{') {
      ++open;
      ++i_;
    } else if (!single && c == '}' && --open == 0) {
      break;
    }
  }
  if (i_ >= s_.size()) return fail(EINVAL, "unterminated '${{' in '{}'", s_);
  std::string_view raw = s_.substr(start, i_ - start);
  ++i_;  // the '}'
  if (depth_ >= kMaxNesting) return fail(EINVAL, "variables nested deeper than {} levels in '{}'", kMaxNesting, s_);
  auto out = TRY(Lexer(raw, vars_, esc_, false, depth_ + 1).run());
  return out.empty() ? std::string() : out[0];
}

}  // namespace

Result<std::vector<std::string>> words(std::string_view text, const Vars& vars, char escape) {
  return Lexer(text, vars, escape, true, 0).run();
}

Result<std::string> word(std::string_view text, const Vars& vars, char escape) {
  auto out = TRY(Lexer(text, vars, escape, false, 0).run());
  return out.empty() ? std::string() : out[0];
}

Result<std::vector<KeyValue>> key_values(const Instruction& in, const Vars& vars, char escape) {
  std::string_view args = in.args;
  size_t first_end = 0;
  while (first_end < args.size() && !is_space(args[first_end])) ++first_end;
  std::string_view first = args.substr(0, first_end);
  if (in.keyword == "ENV" && first.find('=') == std::string_view::npos) {
    // The legacy form: ENV name the rest of the line
    std::string_view rest = args.substr(first_end);
    while (!rest.empty() && is_space(rest.front())) rest.remove_prefix(1);
    if (rest.empty()) return fail(EINVAL, "ENV {} needs a value (ENV name=value, or ENV name value)", first);
    // Not TRY inside the braces: an early return from there skips the key's destructor.
    auto value = TRY(word(rest, vars, escape));
    return std::vector<KeyValue>{{std::string(first), std::move(value)}};
  }
  std::vector<KeyValue> out;
  for (auto& w : TRY(words(args, vars, escape))) {
    size_t eq = w.find('=');
    if (eq == std::string::npos && in.keyword == "ARG") {
      out.push_back({std::move(w), std::nullopt});
      continue;
    }
    if (eq == std::string::npos) return fail(EINVAL, "{}: '{}' is not name=value", in.keyword, w);
    if (eq == 0) return fail(EINVAL, "{}: '{}' has no name before its '='", in.keyword, w);
    out.push_back({w.substr(0, eq), w.substr(eq + 1)});
  }
  return out;
}

}  // namespace vessel::daemon::dockerfile
