/* DESC: no function changes errno, whether it succeeds or fails; errors are returned as negative values. */
#include "common.h"

#define KEEP(expr)                                                                  \
	do {                                                                        \
		errno = 4242;                                                       \
		(void)(expr);                                                       \
		if (errno != 4242)                                                  \
			FAIL("%s changed errno to %d (%s)", #expr, errno,           \
			     strerror(errno));                                      \
	} while (0)

int main(void)
{
	io_context_t ctx = 0, bad = (io_context_t)0x12345000;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	struct timespec zero = {0, 0};
	char buf[64];
	int fd;

	require_our_library();
	fd = scratch_file("data", 64, 0);

	/* Failing calls. */
	KEEP(io_setup(0, &ctx));
	KEEP(io_setup(1, NULL));
	KEEP(io_submit(bad, 1, &ptr));
	KEEP(io_getevents(bad, 1, 1, &ev, &zero));
	KEEP(io_pgetevents(bad, 1, 1, &ev, &zero, NULL));
	KEEP(io_cancel(bad, &cb, &ev));
	KEEP(io_destroy(bad));
	KEEP(io_queue_init(0, &ctx));
	KEEP(io_queue_run(bad));
	KEEP(io_queue_release(bad));

	/* Succeeding calls. */
	errno = 4242;
	EXPECT_RET(io_setup(4, &ctx), 0);
	CHECK(errno == 4242);
	io_prep_pread(&cb, fd, buf, 64, 0);
	errno = 4242;
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	CHECK(errno == 4242);
	reap(ctx, &ev, 1);
	CHECK(errno == 4242 && ev.res == 64);
	KEEP(io_getevents(ctx, 0, 1, &ev, &zero));
	KEEP(io_queue_run(ctx));
	KEEP(io_cancel(ctx, &cb, &ev)); /* fails: already completed */
	KEEP(io_destroy(ctx));
	return 0;
}
