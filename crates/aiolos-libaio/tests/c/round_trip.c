/* DESC: pwrite, pread, pwritev, preadv, fsync and fdatasync round-trip data through io_submit/io_getevents. */
#include "common.h"

#define BS 4096

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cbs[4], *ptrs[4];
	struct io_event ev[4];
	char *wbuf, *rbuf, *v[3];
	struct iovec wiov[3], riov[3];
	int fd, i;

	require_our_library();
	fd = scratch_file("data", 0, 0);
	EXPECT_RET(io_setup(16, &ctx), 0);
	CHECK(ctx != 0);

	/* pwrite of two blocks at different offsets, then fsync. */
	wbuf = (char *)malloc(2 * BS);
	rbuf = (char *)malloc(2 * BS);
	fill_pattern(wbuf, 2 * BS, 1);
	io_prep_pwrite(&cbs[0], fd, wbuf, BS, 0);
	io_prep_pwrite(&cbs[1], fd, wbuf + BS, BS, 3 * BS);
	cbs[0].data = (void *)0x1111;
	cbs[1].data = (void *)0x2222;
	ptrs[0] = &cbs[0];
	ptrs[1] = &cbs[1];
	EXPECT_RET(io_submit(ctx, 2, ptrs), 2);
	reap(ctx, ev, 2);
	for (i = 0; i < 2; i++) {
		CHECK(ev[i].res == BS && ev[i].res2 == 0);
		CHECK((ev[i].obj == &cbs[0] && ev[i].data == (void *)0x1111) ||
		      (ev[i].obj == &cbs[1] && ev[i].data == (void *)0x2222));
	}
	io_prep_fsync(&cbs[2], fd);
	ptrs[0] = &cbs[2];
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	reap(ctx, ev, 1);
	CHECK(ev[0].obj == &cbs[2] && ev[0].res == 0);

	/* pread both blocks back. */
	io_prep_pread(&cbs[0], fd, rbuf, BS, 0);
	io_prep_pread(&cbs[1], fd, rbuf + BS, BS, 3 * BS);
	ptrs[0] = &cbs[0];
	ptrs[1] = &cbs[1];
	EXPECT_RET(io_submit(ctx, 2, ptrs), 2);
	reap(ctx, ev, 2);
	CHECK(ev[0].res == BS && ev[1].res == BS);
	CHECK(memcmp(wbuf, rbuf, 2 * BS) == 0);

	/* pwritev of three uneven pieces, fdatasync, preadv into three other pieces. */
	for (i = 0; i < 3; i++) {
		v[i] = (char *)malloc(BS);
		fill_pattern(v[i], BS, 10 + i);
		wiov[i].iov_base = v[i];
		wiov[i].iov_len = (size_t)(1000 + i * 500);
	}
	io_prep_pwritev(&cbs[0], fd, wiov, 3, 10 * BS);
	ptrs[0] = &cbs[0];
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	reap(ctx, ev, 1);
	CHECK(ev[0].res == 1000 + 1500 + 2000);
	io_prep_fdsync(&cbs[1], fd);
	ptrs[0] = &cbs[1];
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	reap(ctx, ev, 1);
	CHECK(ev[0].res == 0);

	memset(rbuf, 0, 2 * BS);
	riov[0].iov_base = rbuf;
	riov[0].iov_len = 2500;
	riov[1].iov_base = rbuf + 2500;
	riov[1].iov_len = 2000;
	io_prep_preadv(&cbs[0], fd, riov, 2, 10 * BS);
	ptrs[0] = &cbs[0];
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	reap(ctx, ev, 1);
	CHECK(ev[0].res == 4500);
	CHECK(memcmp(rbuf, v[0], 1000) == 0);
	CHECK(memcmp(rbuf + 1000, v[1], 1500) == 0);
	CHECK(memcmp(rbuf + 2500, v[2], 2000) == 0);

	/* A read past the end of the file is short (0 bytes), not an error. */
	io_prep_pread(&cbs[0], fd, rbuf, BS, 100 * BS);
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	reap(ctx, ev, 1);
	CHECK(ev[0].res == 0);

	/* io_pgetevents with a NULL mask behaves as io_getevents. */
	io_prep_pread(&cbs[0], fd, rbuf, BS, 0);
	EXPECT_RET(io_submit(ctx, 1, ptrs), 1);
	{
		struct timespec ts = {10, 0};
		EXPECT_RET(io_pgetevents(ctx, 1, 1, ev, &ts, NULL), 1);
		CHECK(ev[0].res == BS && memcmp(rbuf, wbuf, BS) == 0);
	}

	EXPECT_RET(io_destroy(ctx), 0);
	close(fd);
	return 0;
}
