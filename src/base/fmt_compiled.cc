// fmt's compiled part, built from Debian's fmt headers: libfmt-dev ships only a shared library, and
// the statically linked vessel-runtime (src/runtime/CMakeLists.txt) needs it as an archive. Built
// the way fmt builds its own library: format-inl.h defines the non-template functions, and the
// templates format.h declares extern are instantiated here. (FMT_HEADER_ONLY everywhere would cost
// ~5 s of compile time per translation unit.)
#include <fmt/format-inl.h>

FMT_BEGIN_NAMESPACE
namespace detail {
template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
}  // namespace detail
FMT_END_NAMESPACE
