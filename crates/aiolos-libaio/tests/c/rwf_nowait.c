/* DESC: RWF_NOWAIT reads (io_prep_preadv2) return the data when cached and -EAGAIN instead of blocking when not. */
#include "common.h"
#include <linux/fs.h>

#ifndef RWF_NOWAIT
#define RWF_NOWAIT 0x00000008
#endif
#define LEN (256 * 1024)

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptr = &cb;
	struct io_event ev;
	struct iovec iov;
	char *w = (char *)malloc(LEN), *r = (char *)malloc(LEN);
	long res;
	int fd;

	require_our_library();
	fd = scratch_file("data", 0, 0);
	fill_pattern(w, LEN, 5);
	CHECK(pwrite(fd, w, LEN, 0) == LEN);
	EXPECT_RET(io_setup(2, &ctx), 0);

	/* Cached: the data comes back at once. */
	iov.iov_base = r;
	iov.iov_len = LEN;
	io_prep_preadv2(&cb, fd, &iov, 1, 0, RWF_NOWAIT);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	res = (long)ev.res;
	if (res == -EOPNOTSUPP || res == -EINVAL)
		SKIP("RWF_NOWAIT not supported here (%ld)", res);
	CHECK(res == LEN && memcmp(r, w, LEN) == 0);

	/* Evicted from the page cache (this file only): -EAGAIN, or all the data if the
	 * kernel kept the pages; never a blocking read and never wrong data. */
	CHECK(fsync(fd) == 0);
	CHECK(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) == 0);
	memset(r, 0, LEN);
	io_prep_preadv2(&cb, fd, &iov, 1, 0, RWF_NOWAIT);
	EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
	reap(ctx, &ev, 1);
	res = (long)ev.res;
	if (res != -EAGAIN) {
		CHECK(res > 0 && res <= LEN && memcmp(r, w, (size_t)res) == 0);
		fprintf(stderr, "note: pages stayed cached; NOWAIT read returned %ld bytes\n", res);
	}
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
