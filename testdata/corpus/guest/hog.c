/* hog: allocate and touch memory until the kernel runs out (for vm.panic_on_oom). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int main(void)
{
	const size_t chunk = 4u << 20;
	unsigned long total = 0;

	for (;;) {
		char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			perror("hog: mmap");
			continue;
		}
		memset(p, 0x5a, chunk);
		total += chunk >> 20;
		if (total % 32 == 0) {
			fprintf(stderr, "hog: %lu MiB\n", total);
		}
	}
	return 0;
}
