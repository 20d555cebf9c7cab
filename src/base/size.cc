#include "base/size.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <string>

namespace vessel {

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// The shift of a unit ("k", "KiB", "kb", ...), or the problem with it.
tl::expected<int, SizeProblem> unit_shift(std::string_view unit, const SizeSyntax& s) {
  static constexpr std::string_view kLetters = "bkmgtpe";
  char letter = lower(unit[0]);
  size_t at = kLetters.find(letter);
  if (at == std::string_view::npos || s.units.find(letter) == std::string_view::npos)
    return tl::unexpected(SizeProblem::BadUnit);
  std::string rest;
  for (char c : unit.substr(1)) rest += lower(c);
  if (!rest.empty()) {
    if (!s.long_units) return tl::unexpected(SizeProblem::Trailing);
    if (letter == 'b' || (rest != "i" && rest != "b" && rest != "ib")) return tl::unexpected(SizeProblem::BadUnit);
  }
  return static_cast<int>(at) * 10;
}

}  // namespace

tl::expected<uint64_t, SizeProblem> scan_size(std::string_view text, const SizeSyntax& s, std::string_view* unit) {
  if (text.empty()) return tl::unexpected(SizeProblem::Empty);
  size_t i = 0;
  uint64_t whole = 0;
  double real = 0;
  if (s.fractions) {
    std::string copy(text);
    char* end = nullptr;
    real = strtod(copy.c_str(), &end);
    i = static_cast<size_t>(end - copy.c_str());
    if (i == 0 || !(real >= 0)) return tl::unexpected(SizeProblem::NotANumber);
  } else {
    if (s.lenient) {
      while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
      if (i < text.size() && text[i] == '+') ++i;
    }
    size_t first = i;
    for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
      uint64_t d = static_cast<uint64_t>(text[i] - '0');
      if (whole > (UINT64_MAX - d) / 10) return tl::unexpected(SizeProblem::TooLarge);
      whole = whole * 10 + d;
    }
    if (i == first) return tl::unexpected(SizeProblem::NotANumber);
  }
  std::string_view rest = text.substr(i);
  if (unit) *unit = rest;
  uint64_t mul = s.bare_unit;
  if (!rest.empty()) {
    auto shift = unit_shift(rest, s);
    if (!shift) return tl::unexpected(shift.error());
    mul = uint64_t{1} << *shift;
  }
  if (s.fractions) {
    double bytes = std::floor(real * static_cast<double>(mul));
    if (!(bytes < 18446744073709551616.0)) return tl::unexpected(SizeProblem::TooLarge);
    return static_cast<uint64_t>(bytes);
  }
  if (whole > UINT64_MAX / mul) return tl::unexpected(SizeProblem::TooLarge);
  return whole * mul;
}

Result<uint64_t> parse_size(std::string_view text, const SizeSyntax& syntax) {
  auto r = scan_size(text, syntax);
  if (r) return *r;
  switch (r.error()) {
    case SizeProblem::Empty: return fail(EINVAL, "empty size");
    case SizeProblem::NotANumber:
      return fail(EINVAL, "invalid size '{}': expected a number with an optional K, M, G, T, P or E suffix", text);
    case SizeProblem::BadUnit: return fail(EINVAL, "invalid size suffix in '{}'", text);
    case SizeProblem::Trailing: return fail(EINVAL, "invalid size '{}'", text);
    case SizeProblem::TooLarge: break;
  }
  return fail(ERANGE, "size '{}' is too large", text);
}

}  // namespace vessel
