#!/bin/sh
# Not a Go plugin: a shell script, for the pre-flight check to refuse.
echo "this is not a plugin"
