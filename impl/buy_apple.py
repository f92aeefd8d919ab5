"""Two apples at 100 each, with 10% tax: the textbook's first backward pass.

Prints the book's numbers::

    price: 220
    dApple: 2.2
    dApple_num: 110
    dTax: 200
"""

if __package__:
    from .layer_naive import MulLayer
else:  # run as `python impl/buy_apple.py`: the folder itself is on sys.path
    from layer_naive import MulLayer


def main():
    apple = 100
    apple_num = 2
    tax = 1.1

    mul_apple_layer = MulLayer()
    mul_tax_layer = MulLayer()

    apple_price = mul_apple_layer.forward(apple, apple_num)
    price = mul_tax_layer.forward(apple_price, tax)

    dprice = 1
    dapple_price, dtax = mul_tax_layer.backward(dprice)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)

    print("price:", int(price))
    print("dApple:", dapple)
    print("dApple_num:", int(dapple_num))
    print("dTax:", dtax)


if __name__ == "__main__":
    main()
