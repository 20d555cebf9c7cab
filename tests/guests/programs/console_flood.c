// Floods the serial console: prints "flood N" lines (N from 0) padded with dots, as many as
// "lines=N" on the command line says (default 4000, 256 KB), then "flood done" and exits 0. The
// daemon's log cap test checks that the console log on disk stays within its cap.
#include "guest.h"

static uint64_t parse_lines(const char* s) {
  for (; *s; ++s) {
    if (s[0] == 'l' && s[1] == 'i' && s[2] == 'n' && s[3] == 'e' && s[4] == 's' && s[5] == '=') {
      uint64_t v = 0;
      for (s += 6; *s >= '0' && *s <= '9'; ++s) v = v * 10 + (uint64_t)(*s - '0');
      return v;
    }
  }
  return 4000;
}

int main(void) {
  uint64_t lines = parse_lines(boot_info()->cmdline);
  for (uint64_t i = 0; i < lines; ++i) printf("flood %lu ...................................................\n", i);
  printf("flood done\n");
  return 0;
}
