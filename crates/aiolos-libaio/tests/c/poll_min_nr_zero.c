/* DESC: buffered reads and writes are complete when io_submit returns, as kernel AIO completes them: a program that polls with min_nr = 0 (or a zero timeout) finds each event at once, also for reads cut short by the end of the file (pread and preadv, the end inside the first or a later iovec) or by an unmapped buffer page. */
#include "common.h"
#include <sys/mman.h>

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

	/* Reads the end of the file cuts short, of a file in the page cache: complete inside
	 * io_submit too, with the bytes up to the end (libaio's own test suite reads them so,
	 * and waits for nothing). */
	{
		static char tail[BLOCK];
		struct iovec iov[3];
		struct timespec thirty = {30, 0};
		int small = scratch_file("small", 0, 0), j;
		const long long size = 3 * BLOCK + 100;

		for (j = 0; j < 4; j++) {
			fill_pattern(w, BLOCK, 100u + (unsigned)j);
			CHECK(pwrite(small, w, j < 3 ? BLOCK : 100, (long long)j * BLOCK) ==
			      (j < 3 ? BLOCK : 100));
		}
		/* The end 100 bytes into the last block; a read from 1 byte before it. */
		for (j = 0; j < 3; j++) {
			long long off = j == 0 ? 3 * BLOCK : j == 1 ? size - 1 : 3 * BLOCK + 40;
			memset(r, 0, BLOCK);
			io_prep_pread(&cb, small, r, BLOCK, off);
			EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
			EXPECT_RET(io_getevents(ctx, 0, 2, ev, j == 2 ? &thirty : &zero), 1);
			CHECK(ev[0].obj == &cb && (long long)ev[0].res == size - off);
			fill_pattern(tail, BLOCK, 103);
			CHECK(memcmp(r, tail + (off - 3 * BLOCK), (size_t)(size - off)) == 0);
		}
		/* preadv of three blocks from the second block: the end is in the last iovec. */
		for (j = 0; j < 3; j++) {
			iov[j].iov_base = j == 0 ? w : j == 1 ? r : tail;
			iov[j].iov_len = BLOCK;
		}
		io_prep_preadv(&cb, small, iov, 3, BLOCK);
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		EXPECT_RET(io_getevents(ctx, 0, 2, ev, &zero), 1);
		CHECK((long long)ev[0].res == size - BLOCK);
		/* A buffer whose last bytes lie on an unmapped page: the read copies up to it and
		 * stops, complete with those bytes (a blocking read stops there too). */
		{
			char *pages = (char *)mmap(NULL, 2 * BLOCK, PROT_READ | PROT_WRITE,
						   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			CHECK(pages != MAP_FAILED && munmap(pages + BLOCK, BLOCK) == 0);
			io_prep_pread(&cb, small, pages + BLOCK - 100, BLOCK, 0);
			EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
			EXPECT_RET(io_getevents(ctx, 0, 2, ev, &zero), 1);
			CHECK(ev[0].res == 100);
			fill_pattern(tail, BLOCK, 100);
			CHECK(memcmp(pages + BLOCK - 100, tail, 100) == 0);
			CHECK(munmap(pages, BLOCK) == 0);
		}
		/* At the end exactly, and past it: 0 bytes. */
		io_prep_pread(&cb, small, r, BLOCK, size);
		EXPECT_RET(io_submit(ctx, 1, &ptr), 1);
		EXPECT_RET(io_getevents(ctx, 0, 2, ev, &zero), 1);
		CHECK(ev[0].res == 0);
		close(small);
	}
	EXPECT_RET(io_destroy(ctx), 0);
	return 0;
}
