module certrender/tools/gotemplate-oracle

go 1.22
