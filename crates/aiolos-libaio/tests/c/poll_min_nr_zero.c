/* DESC: buffered reads and writes are complete when io_submit returns, as kernel AIO completes them: a program that polls with min_nr = 0 (or a zero timeout) finds each event at once. */
#include "common.h"

#define ROUNDS 200
#define BLOCK 4096

int main(void)
{
	io_context_t ctx = 0;
	struct iocb cb, *ptr = &cb;
	struct io_event ev[2];
	struct timespec zero = {0, 0};
	static char w[BLOCK], r[BLOCK];
	int fd, i, missed_read = 0, missed_write = 0, missed_null = 0;

	require_our_library();
	fd = scratch_file("data", 0, 0);
	EXPECT_RET(io_setup(8, &ctx), 0);
	for (i = 0; i < ROUNDS; i++) {
		/* A write, then at once a poll with a zero timeout. */
		fill_pattern(w, BLOCK, (unsigned)i);
		io_prep_pwrite(&cb, fd, w, BLOCK, (long long)(i % 16) * BLOCK);
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		if (io_getevents(ctx, 0, 2, ev, &zero) != 1) {
			missed_write++;
			reap(ctx, ev, 1);
		}
		CHECK((long)ev[0].res == BLOCK);
		/* A read of what was just written (in the page cache), polled with min_nr = 0
		 * and no timeout at all (which does not wait when min_nr is 0). */
		io_prep_pread(&cb, fd, r, BLOCK, (long long)(i % 16) * BLOCK);
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		if (io_getevents(ctx, 0, 2, ev, NULL) != 1) {
			missed_null++;
			reap(ctx, ev, 1);
		}
		CHECK((long)ev[0].res == BLOCK && check_pattern(r, BLOCK, (unsigned)i));
		/* And once more with min_nr = 0 and a zero timeout. */
		io_prep_pread(&cb, fd, r, BLOCK, (long long)(i % 16) * BLOCK);
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		if (io_getevents(ctx, 0, 2, ev, &zero) != 1) {
			missed_read++;
			reap(ctx, ev, 1);
		}
		CHECK((long)ev[0].res == BLOCK);
	}
	if (missed_write || missed_read || missed_null)
		FAIL("of %d polls right after io_submit, %d writes, %d reads (zero timeout) and "
		     "%d reads (no timeout) found nothing",
		     ROUNDS, missed_write, missed_read, missed_null);
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
