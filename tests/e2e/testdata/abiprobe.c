/* abiprobe: getpid through each system call ABI of amd64, one
 * "abi: answer" line each, the native one first. Single-threaded, so a
 * seccomp filter that kills the calling thread (as for an architecture it
 * does not list) ends the process there, after the lines before it. */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#define X86_GETPID 20                /* getpid in the i386 table */
#define X32_SYSCALL_BIT 0x40000000L  /* __X32_SYSCALL_BIT */

int main(void) {
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("x86_64: %ld\n", syscall(SYS_getpid));
	long r;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(X86_GETPID) : "memory", "r8", "r9", "r10", "r11");
	if (r < 0 && r > -4096)
		printf("x86: errno %ld\n", -r);
	else
		printf("x86: %ld\n", r);
	r = syscall(X32_SYSCALL_BIT | SYS_getpid);
	if (r < 0)
		printf("x32: errno %d\n", errno);
	else
		printf("x32: %ld\n", r);
	return 0;
}
