/*
 * Shared helpers of the C tests of aiolos's libaio.so.1.
 *
 * Each test is one program for one behaviour: exit 0 = pass, 1 = fail, 77 = skip (with
 * the reason on stderr). The Rust driver (tests/common/mod.rs) builds every program as C,
 * as C++ and with -D_FILE_OFFSET_BITS=64, runs it with a time limit in a scratch
 * directory, and sets AIOLOS_EXPECT_LIB to the library the program must be running on.
 */
#ifndef AIOLOS_TEST_COMMON_H
#define AIOLOS_TEST_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libaio.h>

#define FAIL(...)                                                                   \
	do {                                                                        \
		fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                \
		fprintf(stderr, __VA_ARGS__);                                       \
		fprintf(stderr, "\n");                                              \
		exit(1);                                                            \
	} while (0)

#define SKIP(...)                                                                   \
	do {                                                                        \
		fprintf(stderr, "SKIP: ");                                          \
		fprintf(stderr, __VA_ARGS__);                                       \
		fprintf(stderr, "\n");                                              \
		exit(77);                                                           \
	} while (0)

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond))                                                        \
			FAIL("check failed: %s", #cond);                            \
	} while (0)

/* Checks that an expression returns exactly `want` (a count or a negated errno). */
#define EXPECT_RET(expr, want)                                                      \
	do {                                                                        \
		long got_ = (long)(expr);                                           \
		long want_ = (long)(want);                                          \
		if (got_ != want_)                                                  \
			FAIL("%s returned %ld (%s), expected %ld (%s)", #expr,      \
			     got_, got_ < 0 ? strerror((int)-got_) : "count",       \
			     want_, want_ < 0 ? strerror((int)-want_) : "count");   \
	} while (0)

/* Fails unless the program runs on the library named by AIOLOS_EXPECT_LIB (so that a test
 * never passes on the system's libaio by accident). */
static __attribute__((unused)) void require_our_library(void)
{
	const char *want = getenv("AIOLOS_EXPECT_LIB");
	Dl_info info;
	char got_real[PATH_MAX], want_real[PATH_MAX];

	if (!want)
		FAIL("AIOLOS_EXPECT_LIB is not set: run through cargo test");
	memset(&info, 0, sizeof(info));
	if (!dladdr((void *)&io_submit, &info) || !info.dli_fname)
		FAIL("dladdr(io_submit) failed");
	if (!realpath(info.dli_fname, got_real) || !realpath(want, want_real))
		FAIL("realpath(%s or %s): %s", info.dli_fname, want, strerror(errno));
	if (strcmp(got_real, want_real) != 0)
		FAIL("io_submit comes from %s, not from %s", got_real, want_real);
}

/* Creates a scratch file of `size` bytes (zeros) in the working directory. */
static __attribute__((unused)) int scratch_file(const char *name, off_t size, int extra_flags)
{
	int fd = open(name, O_RDWR | O_CREAT | O_TRUNC | extra_flags, 0600);
	if (fd < 0)
		FAIL("open(%s): %s", name, strerror(errno));
	if (ftruncate(fd, size) != 0)
		FAIL("ftruncate(%s): %s", name, strerror(errno));
	return fd;
}

/* Fills buf with a pattern that depends on the seed and each byte's position. */
static __attribute__((unused)) void fill_pattern(void *buf, size_t len, unsigned seed)
{
	unsigned char *p = (unsigned char *)buf;
	size_t i;
	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 31u + seed * 7u + (i >> 8)) & 0xff);
}

static __attribute__((unused)) int check_pattern(const void *buf, size_t len, unsigned seed)
{
	const unsigned char *p = (const unsigned char *)buf;
	size_t i;
	for (i = 0; i < len; i++)
		if (p[i] != (unsigned char)((i * 31u + seed * 7u + (i >> 8)) & 0xff))
			return 0;
	return 1;
}

/* SIGALRM a test counts: `count_alarm` as the handler adds to `alarm_hits`;
 * `arm_alarm(ms, every_ms)` sends one after `ms`, then every `every_ms` (0: once). */
static __attribute__((unused)) volatile sig_atomic_t alarm_hits;

static __attribute__((unused)) void count_alarm(int sig)
{
	(void)sig;
	alarm_hits++;
}

static __attribute__((unused)) void arm_alarm(long ms, long every_ms)
{
	struct itimerval it = {{every_ms / 1000, (every_ms % 1000) * 1000}, {ms / 1000, (ms % 1000) * 1000}};
	CHECK(setitimer(ITIMER_REAL, &it, NULL) == 0);
}

#ifndef AIOLOS_TEST_NO_GETEVENTS
/* Reaps exactly `n` events, failing after 10 seconds. (A test that must not import
 * io_getevents defines AIOLOS_TEST_NO_GETEVENTS first.) */
static __attribute__((unused)) void reap(io_context_t ctx, struct io_event *events, long n)
{
	long got = 0;
	while (got < n) {
		struct timespec ts = {10, 0};
		int r = io_getevents(ctx, n - got, n - got, events + got, &ts);
		if (r < 0)
			FAIL("io_getevents: %s", strerror(-r));
		if (r == 0)
			FAIL("io_getevents: no completion within 10 s (%ld of %ld)", got, n);
		got += r;
	}
}

#endif

static __attribute__((unused)) double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits up to `seconds` for child `pid` to end (its status in *status); returns whether
 * it did. */
static __attribute__((unused)) int wait_up_to(pid_t pid, int seconds, int *status)
{
	double deadline = now_seconds() + seconds;
	while (now_seconds() < deadline) {
		pid_t r = waitpid(pid, status, WNOHANG);
		CHECK(r >= 0);
		if (r == pid)
			return 1;
		usleep(1000);
	}
	return 0;
}

/* The header of the ring behind an io_context_t (the kernel's struct aio_ring); the events
 * follow it. */
struct ring_header {
	unsigned id, nr, head, tail, magic, compat_features, incompat_features, header_length;
};

/* Takes up to `want` events straight from the ring (as QEMU and fio's userspace_reap
 * do), with no call of the library, waiting up to 10 s for the first `want`; returns how
 * many. */
static __attribute__((unused)) int ring_take(io_context_t ctx, struct io_event *out, int want)
{
	struct ring_header *ring = (struct ring_header *)ctx;
	struct io_event *events = (struct io_event *)(ring + 1);
	double deadline = now_seconds() + 10;
	int got = 0;

	while (got < want && now_seconds() < deadline) {
		unsigned head = __atomic_load_n(&ring->head, __ATOMIC_ACQUIRE);
		unsigned tail = __atomic_load_n(&ring->tail, __ATOMIC_ACQUIRE);
		while (head != tail && got < want) {
			out[got++] = events[head];
			head = (head + 1) % ring->nr;
		}
		__atomic_store_n(&ring->head, head, __ATOMIC_RELEASE);
	}
	return got;
}

#endif
