# rh-tcl-bench's workload: what Tcl programs do most, on Tcl's own
# allocator or, under profiles/tcl8.6, on reheap's: a dictionary of a
# quarter of a million entries built and walked, then rounds of list
# building, string mapping, sorting, joining and splitting. Prints a
# checksum (the same on every heap) and its own time.
# usage: tclsh8.6 tcl_alloc_bench.tcl [SCALE]
set scale [expr {$argc > 0 ? [lindex $argv 0] : 1}]
set t0 [clock microseconds]
set sum 0
set d [dict create]
for {set i 0} {$i < 250000 * $scale} {incr i} {
  dict set d key$i [list $i [string repeat y [expr {$i % 40}]] [format %06x $i]]
}
dict for {k v} $d { incr sum [string length [lindex $v 1]] }
unset d
for {set r 0} {$r < 16 * $scale} {incr r} {
  set l {}
  for {set i 0} {$i < 40000} {incr i} { lappend l [string map {a z} "abc$r.$i"] }
  set l [lsort $l]
  incr sum [llength [split [join $l ,] ,]]
  set words [regexp -all -inline {z[a-z]+} [join [lrange $l 0 999] " "]]
  incr sum [llength $words]
}
puts "tcl-bench: checksum $sum seconds [expr {([clock microseconds] - $t0) / 1e6}]"
