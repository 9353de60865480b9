package augment

import (
	"image"
	"image/color"
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

func solid(w, h int, r, g, b float32) *Image {
	return makeImg(w, h, func(x, y, c int) float32 { return []float32{r, g, b}[c] })
}

func TestGrid(t *testing.T) {
	tiles := []*Image{
		solid(2, 2, 255, 0, 0),
		solid(2, 2, 300, -5, float32(math.NaN())), // clipped: 255, 0, 0
		solid(1, 2, 10.4, 10.6, 128),              // smaller tile: top-left of its cell
	}
	g := Grid(tiles, 2, 1)
	// 2 cols × 2 rows of 2×2 cells with 1 px padding: 2·2+3 = 7.
	require.Equal(t, image.Rect(0, 0, 7, 7), g.Bounds())
	white := color.RGBA{255, 255, 255, 255}
	require.Equal(t, white, g.RGBAAt(0, 0))                        // border
	require.Equal(t, white, g.RGBAAt(3, 1))                        // padding between columns
	require.Equal(t, color.RGBA{255, 0, 0, 255}, g.RGBAAt(1, 1))   // tile 0
	require.Equal(t, color.RGBA{255, 0, 0, 255}, g.RGBAAt(2, 2))   // tile 0
	require.Equal(t, color.RGBA{255, 0, 0, 255}, g.RGBAAt(4, 1))   // tile 1 clipped
	require.Equal(t, color.RGBA{255, 0, 0, 255}, g.RGBAAt(5, 2))   // tile 1
	require.Equal(t, color.RGBA{10, 11, 128, 255}, g.RGBAAt(1, 4)) // tile 2, rounded
	require.Equal(t, color.RGBA{10, 11, 128, 255}, g.RGBAAt(1, 5))
	require.Equal(t, white, g.RGBAAt(2, 4)) // outside the smaller tile
	require.Equal(t, white, g.RGBAAt(4, 4)) // empty fourth cell

	// A gradient tile keeps its orientation.
	grad := makeImg(3, 2, func(x, y, c int) float32 { return float32(10*x + 100*y) })
	g = Grid([]*Image{grad}, 0, 0)
	require.Equal(t, image.Rect(0, 0, 3, 2), g.Bounds())
	require.Equal(t, uint8(120), g.RGBAAt(2, 1).R)
	require.Equal(t, uint8(10), g.RGBAAt(1, 0).G)

	// Default cols = ceil(sqrt(n)).
	many := make([]*Image, 5)
	for i := range many {
		many[i] = solid(4, 3, 0, 0, 0)
	}
	g = Grid(many, 0, 2)
	require.Equal(t, image.Rect(0, 0, 3*4+4*2, 2*3+3*2), g.Bounds())

	require.Equal(t, 0, Grid(nil, 3, 2).Bounds().Dx())
}
