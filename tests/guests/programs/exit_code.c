// Exits with code 42 through the debug exit port: the VMM must exit with 42.
#include "guest.h"

int main(void) {
  puts("exiting with 42\n");
  return 42;
}
