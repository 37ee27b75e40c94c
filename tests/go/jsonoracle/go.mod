module kscript.test/jsonoracle

go 1.22
