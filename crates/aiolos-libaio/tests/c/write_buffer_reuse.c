/* DESC: a buffered write's buffer may be reused as soon as io_submit returns, with many writes in flight (as sysbench does), and a warm buffered read has filled its buffer by then: the file and the buffer hold the right data. */
#include "common.h"

#define BLOCKS 512
#define BLOCK 4096

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cbs[BLOCKS], *ptr;
	struct io_event *ev = (struct io_event *)calloc(BLOCKS, sizeof(*ev));
	static char buf[BLOCK], check[BLOCK];
	int fd, i, torn = 0, stale = 0;

	require_our_library();
	fd = scratch_file("data", (off_t)BLOCKS * BLOCK, 0);
	EXPECT_RET(io_setup(BLOCKS, &ctx), 0);
	/* One buffer for every write: filled, submitted, and at once filled for the next
	 * one, nothing reaped in between. */
	for (i = 0; i < BLOCKS; i++) {
		fill_pattern(buf, BLOCK, (unsigned)i);
		io_prep_pwrite(&cbs[i], fd, buf, BLOCK, (long long)i * BLOCK);
		ptr = &cbs[i];
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		memset(buf, 0xEE, BLOCK);
	}
	reap(ctx, ev, BLOCKS);
	for (i = 0; i < BLOCKS; i++)
		CHECK((long)ev[i].res == BLOCK);
	for (i = 0; i < BLOCKS; i++) {
		CHECK(pread(fd, check, BLOCK, (off_t)i * BLOCK) == BLOCK);
		if (!check_pattern(check, BLOCK, (unsigned)i))
			torn++;
	}
	/* Warm buffered reads: the data is in the buffer when io_submit returns. */
	for (i = 0; i < BLOCKS; i++) {
		memset(buf, 0, BLOCK);
		io_prep_pread(&cbs[i], fd, buf, BLOCK, (long long)i * BLOCK);
		ptr = &cbs[i];
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		if (!check_pattern(buf, BLOCK, (unsigned)i))
			stale++;
		reap(ctx, ev, 1);
		CHECK((long)ev[0].res == BLOCK && check_pattern(buf, BLOCK, (unsigned)i));
	}
	if (torn || stale)
		FAIL("%d of %d blocks written from a reused buffer are wrong; %d of %d warm reads "
		     "were not filled when io_submit returned",
		     torn, BLOCKS, stale, BLOCKS);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
