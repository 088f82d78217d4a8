module vgis-peer

go 1.22
