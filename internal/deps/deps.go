package deps
import (
 _ "github.com/spf13/cobra"
 _ "gonum.org/v1/plot"
 _ "golang.org/x/image/draw"
 _ "golang.org/x/image/bmp"
 _ "golang.org/x/image/tiff"
 _ "golang.org/x/image/webp"
 _ "github.com/google/flatbuffers/go"
 _ "google.golang.org/protobuf/encoding/protowire"
 _ "github.com/schollz/progressbar/v3"
 _ "github.com/rwcarlsen/goexif/exif"
 _ "github.com/stretchr/testify/require"
)
