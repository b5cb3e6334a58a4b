/* Fixture for elfdump's DWARFUnits tests; see README. */
#include "util.h"

int clamped;

static inline unsigned rotl(unsigned x, int k)
{
	return (x << k) | (x >> (32 - k));
}

/* mix inlines rotl, and checksum inlines mix: a two-deep inline chain. */
static inline unsigned mix(unsigned h, int c)
{
	h ^= (unsigned)c;
	h = rotl(h, 5);
	return h * 31u;
}

int checksum(const char *s, int n)
{
	unsigned h = 2166136261u;

	for (int i = 0; i < n; i++)
		h = mix(h, s[i]);
	return clamp((int)(h >> 1), 0, 1 << 30);
}
