/* Fixture for elfdump's DWARFUnits tests; see README. */
#ifndef UTIL_H
#define UTIL_H

extern int clamped;

int checksum(const char *s, int n);

/* Inlined into callers in both .c files: a frame whose file differs from its caller's. */
static inline int clamp(int v, int lo, int hi)
{
	if (v < lo) {
		clamped++;
		return lo;
	}
	if (v > hi) {
		clamped++;
		return hi;
	}
	return v;
}

#endif
