/* execc: the C reference for the process floor. It only replaces itself
 * with argv[1], given the rest as arguments. Built static (-O2 -static),
 * so the difference to calling the backend directly is one execve and a
 * libc start. */
#include <stdio.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv) {
	if (argc < 2)
		return 2;
	execve(argv[1], argv + 1, environ);
	perror("execc");
	return 127;
}
