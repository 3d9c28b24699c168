/* maxrss: runs argv[1..] and prints the peak RSS (KB) the kernel accounts
 * to it, ru_maxrss of wait4. Written in C and built static so that its own
 * pages, which a forked child starts with and keeps in its peak until it
 * execs, are few: a Go parent's (about 2.6 MB) would be the floor of every
 * figure. The child's stdout goes to /dev/null; the figure to stdout.
 * Exit status: the child's. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: maxrss PROGRAM [ARG]...\n");
		return 2;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("maxrss: fork");
		return 1;
	}
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		if (fd >= 0)
			dup2(fd, 1);
		execv(argv[1], argv + 1);
		perror("maxrss: exec");
		_exit(127);
	}
	int st;
	struct rusage ru;
	if (wait4(pid, &st, 0, &ru) < 0) {
		perror("maxrss: wait4");
		return 1;
	}
	printf("%ld\n", ru.ru_maxrss);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return 128 + WTERMSIG(st);
}
