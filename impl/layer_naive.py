"""Scalar nodes of the computational graph (textbook chapter 5, "layer_naive.py").

Each node keeps what its backward pass needs and nothing else.  Both work on
Python numbers and, elementwise, on NumPy arrays of equal shape.
"""


class MulLayer:
    """z = x * y.

    backward: dz/dx = y and dz/dy = x, so (dx, dy) = (dout * y, dout * x).
    """

    def __init__(self):
        self.x = None
        self.y = None

    def __repr__(self):
        return f"MulLayer(x={self.x!r}, y={self.y!r})"

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout):
        dx = dout * self.y  # the inputs swap places
        dy = dout * self.x
        return dx, dy


class AddLayer:
    """z = x + y.

    backward: dz/dx = dz/dy = 1, so (dx, dy) = (dout, dout).
    """

    def __repr__(self):
        return "AddLayer()"

    def forward(self, x, y):
        return x + y

    def backward(self, dout):
        # +dout: a copy of dout in its own type (the textbook's dout * 1 turns a NumPy 1.x
        # float32 scalar into float64)
        return +dout, +dout
