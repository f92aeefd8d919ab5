"""Two apples at 100 and three oranges at 150, with 10% tax.

Prints the book's numbers (float rounding included)::

    price: 715
    dApple: 2.2
    dApple_num: 110
    dOrange: 3.3000000000000003
    dOrange_num: 165
    dTax: 650
"""

if __package__:
    from .layer_naive import AddLayer, MulLayer
else:  # run as `python impl/buy_orange_apple.py`
    from layer_naive import AddLayer, MulLayer


def main():
    apple = 100
    apple_num = 2
    orange = 150
    orange_num = 3
    tax = 1.1

    mul_apple_layer = MulLayer()
    mul_orange_layer = MulLayer()
    add_apple_orange_layer = AddLayer()
    mul_tax_layer = MulLayer()

    apple_price = mul_apple_layer.forward(apple, apple_num)
    orange_price = mul_orange_layer.forward(orange, orange_num)
    all_price = add_apple_orange_layer.forward(apple_price, orange_price)
    price = mul_tax_layer.forward(all_price, tax)

    dprice = 1
    dall_price, dtax = mul_tax_layer.backward(dprice)
    dapple_price, dorange_price = add_apple_orange_layer.backward(dall_price)
    dorange, dorange_num = mul_orange_layer.backward(dorange_price)
    dapple, dapple_num = mul_apple_layer.backward(dapple_price)

    print("price:", int(price))
    print("dApple:", dapple)
    print("dApple_num:", int(dapple_num))
    print("dOrange:", dorange)
    print("dOrange_num:", int(dorange_num))
    print("dTax:", dtax)


if __name__ == "__main__":
    main()
